"""API glue shared by every domain: one error body, idempotent write helper, scoped viewsets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError, connections
from django.http import Http404
from django.utils.translation import get_language
from rest_framework import exceptions as drf_exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError
from .idempotency import run_idempotent

_DRF_MESSAGES = {
    "not_authenticated": ("请先登录", "Authentication required"),
    "authentication_failed": ("身份验证失败", "Authentication failed"),
    "permission_denied": ("无权执行此操作", "You are not allowed to do this"),
    "not_found": ("未找到", "Not found"),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "throttled": ("请求过于频繁，请稍后再试", "Too many requests; try again later"),
    "parse_error": ("请求格式错误", "Malformed request"),
    "unsupported_media_type": ("不支持的内容类型", "Unsupported media type"),
    "invalid": ("输入有误", "The input is not valid"),
}


class DatabaseUnavailable(DomainError):
    code = "database_unavailable"
    status = 503
    message_zh = "服务器暂时无法访问数据库，本次操作未完成，请稍后重试"
    message_en = "The server cannot reach its database just now; nothing was done, try again shortly"


def exception_handler(exc: Exception, context: dict) -> Response | None:
    language = get_language()
    if isinstance(exc, DomainError):
        return Response(exc.as_body(language), status=exc.status)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # A dropped or refused database connection: the transaction rolled back, so the
        # client may retry the same request (same Idempotency-Key). A JSON answer, never
        # Django's HTML error page.
        _close_broken_connections()
        response = Response(DatabaseUnavailable().as_body(language), status=503)
        response["Retry-After"] = "2"
        return response
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        # A model field refused a value a view passed on unchecked (e.g. a path or query value
        # that is not a UUID): the client's mistake, a 400, never a 500.
        exc = drf_exceptions.ValidationError({"detail": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, drf_exceptions.APIException):
        return response
    code = exc.default_code if not isinstance(exc, drf_exceptions.ValidationError) else "invalid"
    zh, en = _DRF_MESSAGES.get(code, ("请求无法完成", "The request could not be completed"))
    details = response.data if isinstance(exc, drf_exceptions.ValidationError) else {}
    body = DomainError(zh, en, code="validation_failed" if code == "invalid" else code, details=details)
    response.data = body.as_body(language)
    return response


def idempotent_response(
    request: Request, *, scope: str, operation: Callable[[], tuple[int, Any]], payload: Any = None
) -> Response:
    """Wrap a write view: reads the Idempotency-Key header, replays or runs `operation`."""
    status, body, replayed = run_idempotent(
        scope=scope,
        key=request.headers.get("Idempotency-Key"),
        payload=request.data if payload is None else payload,
        operation=operation,
    )
    response = Response(body, status=status)
    response["Idempotent-Replayed"] = "true" if replayed else "false"
    return response


class ScopedQuerysetMixin:
    """For viewsets: every list and detail starts from the rows the user may see."""

    scoped_model: Any = None

    def get_queryset(self):  # type: ignore[override]
        return self.scoped_model.objects.visible_to(self.request.user)


def _close_broken_connections() -> None:
    """Drop a connection that failed, so the next request of this process opens a fresh one."""
    for conn in connections.all(initialized_only=True):
        try:
            if conn.connection is not None and not conn.is_usable():
                conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may itself fail
            conn.connection = None
