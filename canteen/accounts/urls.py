from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("accounts/otp/", views.otp, name="otp"),
]

api_urlpatterns = [
    path("api/v1/auth/token/", views.token_obtain, name="api-token"),
    path("api/v1/auth/tokens/", views.token_list, name="api-tokens"),
    path("api/v1/auth/tokens/<uuid:token_id>/revoke/", views.token_revoke, name="api-token-revoke"),
]
