from django.urls import path

from . import views

app_name = "trace-api"
urlpatterns = [
    path("points/", views.TrackPointsView.as_view(), name="points"),
    path("devices/", views.DeviceRegisterView.as_view(), name="devices"),
    path("gs1-keys/", views.Gs1KeyView.as_view(), name="gs1-keys"),
    path("epcis/", views.EpcisView.as_view(), name="epcis"),
    # The EPCIS 2.0 REST binding, with /api/v1/trace/epcis as its base.
    path("epcis/capture", views.EpcisCaptureView.as_view(), name="epcis-capture"),
    path("epcis/capture/<uuid:pk>", views.EpcisCaptureJobView.as_view(), name="epcis-capture-job"),
    path("epcis/events", views.EpcisEventsView.as_view(), name="epcis-events"),
    path("recall/<str:code>/", views.RecallView.as_view(), name="recall"),
    path("recalls/<uuid:pk>/pupils/", views.RecallPupilsView.as_view(), name="recall-pupils"),
    path(
        "recalls/<uuid:pk>/campuses/<uuid:campus_id>/confirm/", views.RecallConfirmView.as_view(), name="recall-confirm"
    ),
    path("recalls/<uuid:pk>/close/", views.RecallCloseView.as_view(), name="recall-close"),
    path("dish-batches/", views.DishBatchesView.as_view(), name="dish-batches"),
]
