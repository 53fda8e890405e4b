from django.urls import path

from . import views, views_records

app_name = "kitchen"
urlpatterns = [
    path("kitchen/live/", views.live_wall, name="live-wall"),
    path("kitchen/cameras/<uuid:camera_id>/live/<str:name>", views.live_file, name="live-file"),
    path("kitchen/cameras/<uuid:camera_id>/playback/", views.playback, name="playback"),
    path("kitchen/cameras/<uuid:camera_id>/recordings.m3u8", views.recordings_playlist, name="recordings-playlist"),
    path("kitchen/cameras/<uuid:camera_id>/rec/<str:name>", views.recording_file, name="recording-file"),
    path("kitchen/alarms/", views.alarm_list, name="alarms"),
    path("kitchen/alarms/<uuid:alarm_id>/<str:which>", views.alarm_media, name="alarm-media"),
    path("kitchen/alarms/<uuid:alarm_id>/move/", views.alarm_move, name="alarm-move"),
    path("kitchen/records/", views_records.today, name="records"),
    path("kitchen/records/check/", views_records.morning_check, name="record-check"),
    path("kitchen/records/sample/", views_records.food_sample, name="record-sample"),
    path("kitchen/records/disinfection/", views_records.disinfection, name="record-disinfection"),
    path("kitchen/records/accompanied/", views_records.accompanied_meal, name="record-accompanied"),
    path("kitchen/records/waste/", views_records.waste, name="record-waste"),
]
