from django.urls import path

from . import views

app_name = "trace-api"
urlpatterns = [
    path("points/", views.TrackPointsView.as_view(), name="points"),
    path("devices/", views.DeviceRegisterView.as_view(), name="devices"),
    path("epcis/", views.EpcisView.as_view(), name="epcis"),
    path("recall/<str:code>/", views.RecallView.as_view(), name="recall"),
    path("dish-batches/", views.DishBatchesView.as_view(), name="dish-batches"),
]
