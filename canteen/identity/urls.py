from django.urls import path

from . import views

app_name = "identity"
urlpatterns = [
    path("identity/children/", views.children, name="children"),
    path("identity/children/<uuid:student_id>/", views.child, name="child"),
    path("identity/children/<uuid:student_id>/consent/", views.consent, name="consent"),
    path("identity/children/<uuid:student_id>/withdraw/", views.withdraw, name="withdraw"),
    path("identity/children/<uuid:student_id>/enrol/", views.enrol, name="enrol"),
    path("identity/children/<uuid:student_id>/qr/", views.qr_issue, name="qr-issue"),
    path("identity/children/<uuid:student_id>/pin/", views.pin, name="pin"),
    path("identity/classes/", views.classes, name="classes"),
    path("identity/classes/<uuid:class_id>/", views.class_detail, name="class"),
    path("identity/classes/<uuid:class_id>/cards.pdf", views.class_cards, name="class-cards"),
    path("identity/statistics/", views.statistics, name="statistics"),
]
