from django.urls import path

from . import views

app_name = "schoolcalendar"
urlpatterns = [
    path("calendar/", views.home, name="home"),
    path("calendar/<uuid:pk>/delete/", views.delete, name="delete"),
]
