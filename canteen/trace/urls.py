from django.urls import path

from . import views

app_name = "trace"
# The public scan URLs are short (/t/...) on purpose: a shorter URL makes a coarser QR code
# that still scans from a 50×30 mm label.
urlpatterns = [
    path("t/<str:code>", views.public_page, name="public"),
    path("t/<str:code>/qc", views.public_qc_report, name="public-qc"),
    path("t/<str:code>/qc.png", views.public_qc_preview, name="public-qc-preview"),
    path("t/<str:code>/qr.png", views.public_qr, name="public-qr"),
    path("t/01/<str:gtin>/10/<str:lot>", views.digital_link, name="digital-link-legacy"),
    # GS1 Digital Link at the resolver's root, as printed on labels and named in EPCIS exports.
    path("01/<str:gtin>/10/<str:lot>", views.digital_link, name="digital-link"),
    path("trace/codes/", views.codes, name="codes"),
    path("trace/labels.pdf", views.label_sheet, name="labels"),
    path("trace/recall/<str:code>/", views.recall, name="recall"),
    path("trace/recalls/<uuid:pk>/campuses/<uuid:campus_id>/confirm/", views.recall_confirm, name="recall-confirm"),
    path("trace/recalls/<uuid:pk>/close/", views.recall_close, name="recall-close"),
    path("trace/epcis/import/", views.epcis_import, name="epcis-import"),
]
