"""Signing in: the second factor (set up on first use), API tokens for scripts, and the list of
one's own tokens."""

from __future__ import annotations

from typing import Any

import django_otp
import segno
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from canteen.core.errors import DomainError, NotFound
from canteen.core.i18n import tr

from . import services
from .models import ApiToken
from .policy import otp_required_for


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if ok else "/"


@login_required
def otp(request: HttpRequest) -> HttpResponse:
    """Ask for the 6-digit code; without a confirmed device, set one up first (QR + key)."""
    user = request.user
    device = services.totp_device_of(user)
    setup = services.totp_device_start(user=user) if device is None else None
    error = ""
    if request.method == "POST":
        verified = services.totp_verify(user=user, token=request.POST.get("token", ""), confirm=setup is not None)
        if verified is not None:
            django_otp.login(request, verified)
            return redirect(_next(request))
        error = tr("验证码不正确或已过期", "The code is wrong or has expired")
    context: dict[str, Any] = {"setup": setup, "error": error, "next": _next(request)}
    if setup is not None:
        context["otpauth_svg"] = segno.make(setup.config_url, error="m").svg_inline(scale=4)
        context["secret"] = _base32(setup)
    return render(request, "accounts/otp.html", context, status=400 if error else 200)


def _base32(device: Any) -> str:
    import base64

    return base64.b32encode(device.bin_key).decode().rstrip("=")


# -- API tokens ---------------------------------------------------------------------------------


class TokenRequest(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    otp = serializers.CharField(
        max_length=8, required=False, allow_blank=True, help_text="TOTP code, for the roles that need one"
    )
    name = serializers.CharField(max_length=60, required=False, allow_blank=True)


class TokenIssued(serializers.Serializer):
    id = serializers.UUIDField()
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TokenRow(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]


class AuthFailed(DomainError):
    code = "authentication_failed"
    status = 400
    message_zh = "用户名或密码错误"
    message_en = "Wrong username or password"


class OtpRequired(DomainError):
    code = "otp_required"
    status = 400
    message_zh = "需要两步验证码"
    message_en = "A two-factor code is required"


@extend_schema(
    request=TokenRequest,
    responses={201: TokenIssued, 400: OpenApiResponse(description="wrong credentials or code"), 429: None},
    auth=[],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def token_obtain(request: Request) -> Response:
    """A new API token (shown once). Wrong passwords count toward the lockout (django-axes), as
    on the sign-in page; roles that need a second factor must send a current TOTP code."""
    data = TokenRequest(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    user = authenticate(request._request, username=v["username"], password=v["password"])
    if getattr(request._request, "axes_locked_out", False):
        return lockout_response(request._request)
    if user is None:
        raise AuthFailed()
    if otp_required_for(user):
        if services.totp_device_of(user) is None:
            raise OtpRequired(details={"otp": "set up two-factor sign-in on the web first"})
        if services.totp_verify(user=user, token=v.get("otp", "")) is None:
            raise OtpRequired(details={"otp": "missing or wrong"})
    token, key = services.token_issue(user=user, name=v.get("name", ""))
    return Response({"id": token.pk, "token": key, "expires_at": token.expires_at}, status=status.HTTP_201_CREATED)


@extend_schema(responses=TokenRow(many=True))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def token_list(request: Request) -> Response:
    """The caller's own tokens (never their keys)."""
    rows = ApiToken.objects.filter(user=request.user).order_by("-created_at")[:100]
    return Response(TokenRow(rows, many=True).data)


@extend_schema(request=None, responses={200: TokenRow, 404: None})
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def token_revoke(request: Request, token_id: Any) -> Response:
    if not getattr(request.user, "pk", None):
        raise NotFound()
    return Response(TokenRow(services.token_revoke(actor=request.user, token_id=token_id)).data)


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' answer while locked out: the project's JSON error body for the API, a page
    for people."""
    body = DomainError(
        "尝试次数过多，账号或地址已暂时锁定", "Too many failed attempts; locked for a while", code="locked_out"
    )
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse(body.as_body(), status=429, json_dumps_params={"ensure_ascii": False})
    return render(request, "accounts/locked_out.html", status=429)
