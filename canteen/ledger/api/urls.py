from django.urls import path

from . import subsidy_views, views

app_name = "ledger-api"
urlpatterns = [
    path("wallets/", views.wallets, name="wallets"),
    path("students/<uuid:student_id>/statement/", views.statement, name="statement"),
    path("students/<uuid:student_id>/settings/", views.wallet_settings, name="wallet-settings"),
    path("meal-charges/", views.meal_charges, name="meal-charges"),
    path("top-ups/", views.top_ups, name="top-ups"),
    path("online-top-ups/", views.online_top_ups, name="online-top-ups"),
    path("postings/<uuid:posting_id>/reverse/", views.reverse, name="reverse"),
    path("transfers/", views.transfers, name="transfers"),
    path("refunds/", views.refunds, name="refunds"),
    path("closures/", views.closures, name="closures"),
    path("provider/<str:provider>/notify/", views.provider_notify, name="provider-notify"),
    path("report/", views.report, name="report"),
    path("programmes/", subsidy_views.programmes, name="programmes"),
    path("programmes/<uuid:programme_id>/eligibility/", subsidy_views.eligibility, name="eligibility"),
    path("subsidy-report/", subsidy_views.subsidy_report, name="subsidy-report"),
]
