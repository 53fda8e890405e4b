from django.urls import path

from . import people_views, views

app_name = "org"
urlpatterns = [
    path("org/schools/", views.school_list, name="school-list"),
    path("org/students/", views.student_list, name="student-list"),
    path("org/students/<uuid:pk>/", people_views.student_detail, name="student-detail"),
    path("org/students/<uuid:pk>/<slug:action>/", people_views.student_action, name="student-action"),
    path("org/schools/<uuid:pk>/promote/", people_views.school_promote, name="school-promote"),
    path("org/classes/<uuid:pk>/binding-sheet.pdf", people_views.binding_sheet, name="binding-sheet"),
    path("org/roster/", people_views.roster_home, name="roster"),
    path("org/roster/template.xlsx", people_views.roster_template, name="roster-template"),
    path("org/roster/<uuid:pk>/", people_views.roster_detail, name="roster-detail"),
    path("org/roster/<uuid:pk>/confirm/", people_views.roster_confirm, name="roster-confirm"),
    path("org/roster/<uuid:pk>/progress/", people_views.roster_progress, name="roster-progress"),
    path("org/roster/<uuid:pk>/report.csv", people_views.roster_report, name="roster-report"),
    path("org/staff/", people_views.staff_list, name="staff"),
    path("org/staff/<int:pk>/active/", people_views.staff_active, name="staff-active"),
    path("guardian/bind/", people_views.guardian_bind, name="guardian-bind"),
]
