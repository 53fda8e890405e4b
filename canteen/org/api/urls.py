from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("schools", views.SchoolViewSet, basename="school")
router.register("campuses", views.CampusViewSet, basename="campus")
router.register("students", views.StudentViewSet, basename="student")

app_name = "org-api"
urlpatterns = [path("me/", views.me, name="me"), *router.urls]
