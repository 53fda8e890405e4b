from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "kitchen-api"
router = SimpleRouter()
router.register("cameras", views.CameraViewSet, basename="camera")
router.register("alarms", views.AlarmViewSet, basename="alarm")
urlpatterns = [
    path("samples/", views.FoodSampleCreate.as_view(), name="sample-create"),
    *router.urls,
]
