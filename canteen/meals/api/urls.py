from django.urls import path

from . import views

app_name = "meals-api"
urlpatterns = [
    path("offer/", views.Offer.as_view(), name="offer"),
    path("dishes/", views.Dishes.as_view(), name="dishes"),
    path("students/<uuid:student_id>/plan/", views.StudentMealPlan.as_view(), name="student-plan"),
    path("students/<uuid:student_id>/opt-outs/", views.StudentOptOut.as_view(), name="student-opt-out"),
    path("menus/", views.MenuWrite.as_view(), name="menu-write"),
    path("menus/<uuid:menu_id>/publish/", views.MenuPublish.as_view(), name="menu-publish"),
    path("campuses/<uuid:campus_id>/menus/", views.MenusOfDay.as_view(), name="menus-of-day"),
    path("campuses/<uuid:campus_id>/forecast/", views.Forecast.as_view(), name="forecast"),
    path("campuses/<uuid:campus_id>/nutrition-check/", views.NutritionCheckView.as_view(), name="nutrition-check"),
]
