from django.urls import path

from . import views
from .payments import views as payment_views

app_name = "ledger"
urlpatterns = [
    path("ledger/guardian/", views.guardian_home, name="guardian-home"),
    path("ledger/guardian/transfer/", views.transfer, name="transfer"),
    path("ledger/guardian/<uuid:student_id>/", views.statement, name="statement"),
    path("ledger/guardian/<uuid:student_id>/settings/", views.wallet_settings, name="wallet-settings"),
    path("ledger/guardian/<uuid:student_id>/top-up/", views.top_up_start, name="top-up"),
    path("ledger/pay/demo/<str:out_trade_no>/", views.demo_pay, name="demo-pay"),
    path("ledger/pay/order/<str:out_trade_no>/", payment_views.topup_pay, name="topup-pay"),
    path("ledger/pay/order/<str:out_trade_no>/status/", payment_views.topup_status, name="topup-status"),
    path("ledger/pay/return/<str:out_trade_no>/", payment_views.topup_return, name="topup-return"),
    path(
        "ledger/pay/<str:provider>/<uuid:merchant_id>/notify/",
        payment_views.provider_notify,
        name="provider-notify",
    ),
    path("ledger/finance/reconcile/provider-day/", payment_views.reconcile_provider_day, name="reconcile-provider-day"),
    path("ledger/finance/reconcile/item/<uuid:pk>/fix/", payment_views.reconcile_item_fix, name="reconcile-item-fix"),
    path("ledger/wechat/oauth/<uuid:student_id>/", payment_views.wechat_oauth_start, name="wechat-oauth"),
    path("ledger/wechat/oauth/callback/", payment_views.wechat_oauth_callback, name="wechat-oauth-callback"),
    path("ledger/finance/", views.finance_home, name="finance-home"),
    path("ledger/finance/report.<str:fmt>", views.report_export, name="report-export"),
    path("ledger/finance/close/", views.period_close, name="period-close"),
    path("ledger/finance/top-up/", views.office_top_up, name="office-top-up"),
    path("ledger/finance/close-account/", views.office_close_account, name="office-close-account"),
    path("ledger/finance/reconcile/", views.reconcile, name="reconcile"),
    path("ledger/finance/reconcile/<uuid:pk>/", views.reconcile_detail, name="reconcile-detail"),
    path("ledger/finance/demo-settlement.csv", views.demo_settlement, name="demo-settlement"),
    path("ledger/disclosure/<uuid:campus_id>/<int:year>/<int:month>/", views.disclosure, name="disclosure"),
    path("ledger/disclosure/<uuid:campus_id>/<int:year>/<int:month>/pdf/", views.disclosure_pdf, name="disclosure-pdf"),
]
