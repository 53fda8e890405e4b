from django.urls import path

from . import views

app_name = "identity-api"
urlpatterns = [
    path("consent-text/", views.ConsentTextView.as_view(), name="consent-text"),
    path("students/<uuid:student_id>/", views.StudentIdentityView.as_view(), name="student"),
    path("students/<uuid:student_id>/consent/", views.ConsentView.as_view(), name="consent"),
    path("students/<uuid:student_id>/consent/withdraw/", views.ConsentWithdrawView.as_view(), name="consent-withdraw"),
    path("students/<uuid:student_id>/enrol/", views.EnrolView.as_view(), name="enrol"),
    path("students/<uuid:student_id>/qr/", views.QrIssueView.as_view(), name="qr"),
    path("students/<uuid:student_id>/display-photo.jpg", views.DisplayPhotoView.as_view(), name="display-photo"),
    path("students/<uuid:student_id>/pin/", views.PinSetView.as_view(), name="pin"),
    path("verify/qr/", views.VerifyQrView.as_view(), name="verify-qr"),
    path("verify/pin/", views.VerifyPinView.as_view(), name="verify-pin"),
    path("campuses/<uuid:campus_id>/gallery-version/", views.GalleryVersionView.as_view(), name="gallery-version"),
    path("campuses/<uuid:campus_id>/gallery-package/", views.GalleryPackageView.as_view(), name="gallery-package"),
    path("classes/<uuid:class_id>/", views.ClassStatusView.as_view(), name="class-status"),
    path("classes/<uuid:class_id>/cards.pdf", views.ClassCardsView.as_view(), name="class-cards"),
    path("statistics/", views.ConsentStatisticsView.as_view(), name="statistics"),
]
