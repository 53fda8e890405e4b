"""Hostile-input guards that run before any view parses a request.

- NUL bytes in the path, the query string or a form field: 400. PostgreSQL cannot store them in
  text and Django's URL resolver passes them to views that then fail with a 500.
- A request body larger than its limit: 413 before anything reads it (the EPCIS import read a
  200 MB body before refusing it). Multipart uploads have their own, larger limit.
- A JSON body nested deeper than CANTEEN_MAX_JSON_DEPTH: 400 before json.loads (a 100,000-deep
  array made the parser raise RecursionError, a 500, on every JSON API).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .errors import DomainError

# A JSON string (with escapes) or one bracket: strings are skipped, brackets counted.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


class JsonTooDeep(ValueError):
    pass


def json_depth_check(data: bytes, *, max_depth: int) -> None:
    """Raise JsonTooDeep when `data` nests arrays/objects deeper than max_depth (no parsing)."""
    depth = 0
    for match in _JSON_TOKENS.finditer(data):
        first = match.group()[0]
        if first == 0x22:  # a string: brackets inside it do not count
            continue
        if first in _OPENERS:
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(f"JSON nested deeper than {max_depth}")
        else:
            depth -= 1


def json_loads_bounded(data: bytes | str, *, max_depth: int | None = None) -> object:
    """json.loads with the depth check first: for views that parse a body themselves."""
    raw = data.encode() if isinstance(data, str) else data
    json_depth_check(raw, max_depth=max_depth or settings.CANTEEN_MAX_JSON_DEPTH)
    return json.loads(raw)


def _error(status: int, zh: str, en: str, code: str, details: dict | None = None) -> HttpResponse:
    body = DomainError(zh, en, code=code, details=details or {}).as_body()
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class HostileInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = self._refuse(request)
        return refused if refused is not None else self.get_response(request)

    def _refuse(self, request: HttpRequest) -> HttpResponse | None:
        raw_path = request.META.get("PATH_INFO", "")
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in raw_path or "\x00" in query or b"\x00" in unquote_to_bytes(query):
            return _null_byte()
        if raw_path.startswith(tuple(settings.CANTEEN_OWN_BODY_LIMITS)):
            # An endpoint with a larger limit of its own, checked before it reads the body and
            # answered in its own terms (EPCIS documents: CANTEEN_EPCIS_MAX_BYTES).
            return None
        content_type = request.META.get("CONTENT_TYPE", "")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _error(400, "请求长度无效", "Invalid Content-Length", "bad_request")
        multipart = content_type.lower().startswith("multipart/")
        limit = settings.CANTEEN_MAX_UPLOAD_BYTES if multipart else settings.CANTEEN_MAX_BODY_BYTES
        if length > limit:
            return _error(
                413,
                "请求内容过大",
                "The request body is too large",
                "request_too_large",
                {"limit_bytes": limit, "content_length": length},
            )
        if request.method in {"POST", "PUT", "PATCH"} and length:
            if _is_json(content_type):
                try:
                    json_depth_check(request.body, max_depth=settings.CANTEEN_MAX_JSON_DEPTH)
                except JsonTooDeep:
                    return _error(
                        400,
                        "JSON 嵌套层级过深",
                        "The JSON is nested too deeply",
                        "parse_error",
                        {"max_depth": settings.CANTEEN_MAX_JSON_DEPTH},
                    )
            elif content_type.lower().startswith("application/x-www-form-urlencoded"):
                if b"\x00" in request.body or b"%00" in request.body:
                    return _null_byte()
            elif multipart and any("\x00" in v for _, values in request.POST.lists() for v in values):
                return _null_byte()
        return None


def _null_byte() -> HttpResponse:
    return _error(400, "请求中含有空字符", "The request contains a NUL byte", "bad_request")
