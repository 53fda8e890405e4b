from django.urls import path

from . import views

app_name = "supervision-api"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("bigscreen/", views.bigscreen, name="bigscreen"),
    path("ranking/", views.ranking, name="ranking"),
    path("cases/", views.CaseList.as_view(), name="case-list"),
    path("cases/open/", views.case_open, name="case-open"),
    path("cases/<uuid:pk>/", views.CaseDetail.as_view(), name="case-detail"),
    path("cases/<uuid:pk>/assign/", views.case_assign, name="case-assign"),
    path("cases/<uuid:pk>/respond/", views.case_respond, name="case-respond"),
    path("cases/<uuid:pk>/review/", views.case_review, name="case-review"),
    path("cases/<uuid:pk>/close/", views.case_close, name="case-close"),
    path("cases/<uuid:pk>/dismiss/", views.case_dismiss, name="case-dismiss"),
    path("inspections/", views.InspectionList.as_view(), name="inspection-list"),
    path("inspections/plan/", views.inspection_plan, name="inspection-plan"),
    path("inspections/draw/", views.inspection_draw, name="inspection-draw"),
    path("inspections/<uuid:pk>/", views.InspectionDetail.as_view(), name="inspection-detail"),
    path("inspections/<uuid:pk>/record/", views.inspection_record, name="inspection-record"),
    path("feedback/", views.FeedbackList.as_view(), name="feedback-list"),
    path("feedback/<uuid:pk>/answer/", views.feedback_answer, name="feedback-answer"),
    path("public/feedback/", views.public_feedback_submit, name="public-feedback-submit"),
    path("public/feedback/<str:code>/", views.public_feedback_follow, name="public-feedback-follow"),
]
