from django.urls import path

from . import views

app_name = "org"
urlpatterns = [
    path("org/schools/", views.school_list, name="school-list"),
    path("org/students/", views.student_list, name="student-list"),
]
