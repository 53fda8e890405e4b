from django.urls import path

from . import views

app_name = "schoolcalendar-api"
urlpatterns = [
    path("entries/", views.entries, name="entries"),
    path("entries/<uuid:pk>/", views.entry, name="entry"),
    path("campuses/<uuid:campus_id>/school-days/", views.school_days, name="school-days"),
]
