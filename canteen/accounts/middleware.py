"""Session rules: an idle timeout, and a second factor before anything else for the roles that
need one (policy.otp_required_for). API calls with a token are not sessions: the token itself
is only issued after the second factor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from canteen.core.errors import DomainError

from .policy import otp_required_for

LAST_SEEN_KEY = "canteen_last_seen"
# The session is written at most this often to record activity (not on every request).
TOUCH_EVERY_SECONDS = 60
# Reachable before the second factor: signing in and out, the second factor itself, assets.
OPEN_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/healthz", "/favicon")


def _has_session_cookie(request: HttpRequest) -> bool:
    # Without a session cookie there is no signed-in session to check, and not touching
    # request.user keeps token calls (a terminal's checkout) free of session reads and of
    # "Vary: Cookie".
    return settings.SESSION_COOKIE_NAME in request.COOKIES


class IdleTimeoutMiddleware:
    """Ends a session left idle for CANTEEN_SESSION_IDLE_SECONDS (default 30 minutes)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None) if _has_session_cookie(request) else None
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            last = request.session.get(LAST_SEEN_KEY)
            if last is not None and now - int(last) > settings.CANTEEN_SESSION_IDLE_SECONDS:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)  # now anonymous: the API answers 401/403
                return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")
            if last is None or now - int(last) >= TOUCH_EVERY_SECONDS:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


class OtpRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None) if _has_session_cookie(request) else None
        if (
            user is not None
            and otp_required_for(user)
            and not user.is_verified()
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                body = DomainError(
                    "请先完成两步验证", "Two-factor verification is required", code="otp_required"
                ).as_body()
                return JsonResponse(body, status=403, json_dumps_params={"ensure_ascii": False})
            return redirect(f"{reverse('accounts:otp')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class CSPMiddleware(_CSPMiddleware):
    """django-csp's middleware with the directives in a fixed order: it builds the header from a
    set, so two responses could carry the same policy in different orders (and a cached or
    compared response differed for nothing)."""

    def process_response(self, request: HttpRequest, response: Any) -> Any:
        response = super().process_response(request, response)
        for header in (HEADER, HEADER_REPORT_ONLY):
            if header in response:
                parts = [part.strip() for part in response[header].split(";") if part.strip()]
                response[header] = "; ".join(sorted(parts))
        return response
