from django.urls import path
from rest_framework.routers import SimpleRouter

from . import people, views

router = SimpleRouter()
router.register("schools", views.SchoolViewSet, basename="school")
router.register("campuses", views.CampusViewSet, basename="campus")
router.register("students", views.StudentViewSet, basename="student")

app_name = "org-api"
urlpatterns = [
    path("me/", views.me, name="me"),
    path("roster-imports/", people.roster_import_create, name="roster-import-create"),
    path("roster-imports/<uuid:pk>/", people.roster_import_detail, name="roster-import-detail"),
    path("roster-imports/<uuid:pk>/confirm/", people.roster_import_confirm, name="roster-import-confirm"),
    path("students/<uuid:pk>/<slug:action>/", people.student_life_event, name="student-life-event"),
    path("schools/<uuid:pk>/promote/", people.school_promote, name="school-promote"),
    path("guardian-binding/start/", people.binding_start, name="binding-start"),
    path("guardian-binding/confirm/", people.binding_confirm, name="binding-confirm"),
    path("guardian-links/<uuid:pk>/", people.guardian_link_delete, name="guardian-link-delete"),
    path("staff/", people.staff_create, name="staff-create"),
    path("staff/<int:pk>/active/", people.staff_active, name="staff-active"),
    *router.urls,
]
