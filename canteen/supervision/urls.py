from django.urls import path

from . import views

app_name = "supervision"
urlpatterns = [
    path("supervision/", views.dashboard, name="dashboard"),
    path("supervision/bigscreen/", views.bigscreen, name="bigscreen"),
    path("supervision/cases/", views.case_list, name="case-list"),
    path("supervision/cases/<uuid:pk>/", views.case_detail, name="case-detail"),
    path("supervision/ranking/", views.ranking, name="ranking"),
    path("supervision/inspections/", views.inspection_list, name="inspection-list"),
    path("supervision/inspections/<uuid:pk>/", views.inspection_detail, name="inspection-detail"),
    path("supervision/feedback/", views.feedback_list, name="feedback-list"),
    path("supervision/qr/", views.qr_sheet, name="qr-sheet"),
    path("supervision/qr/<str:code>.svg", views.qr_svg, name="qr-svg"),
    # Public (no login): the parents' form behind the canteen's QR code, and the follow page.
    path("supervision/f/follow/", views.public_follow, name="public-follow"),
    path("supervision/f/<str:code>/", views.public_feedback, name="public-feedback"),
]
