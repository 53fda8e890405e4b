"""The EPCIS endpoints' own body limit, checked before a byte of the body is read.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE bounds `request.body`, not a stream read by the view, and a
multipart upload is spooled to disk by the CSRF check before the view runs. So the import page
and the capture API check the declared length first, then read at most the limit in chunks
(a body sent without a length is cut off at the limit, never buffered whole)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from . import epcis
from .errors import EpcisDocumentTooLarge

CHUNK = 64 * 1024


def declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def read_limited(request: HttpRequest, limit: int | None = None) -> bytes:
    """The request body, at most `limit` bytes (the EPCIS limit): refused by its declared length
    before reading, or when the stream runs past the limit."""
    limit = limit or epcis.max_document_bytes()
    length = declared_length(request)
    if length is not None and length > limit:
        raise EpcisDocumentTooLarge(details={"bytes": length, "limit": limit})
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = request.read(CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise EpcisDocumentTooLarge(details={"bytes": f">{limit}", "limit": limit})
        parts.append(chunk)
    return b"".join(parts)


def upload_size_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For the upload page: refuse a POST whose declared length exceeds the limit (plus room for
    the multipart envelope) before the CSRF check parses (and spools) the body; then CSRF."""
    protected = csrf_protect(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            limit = epcis.max_document_bytes() + 64 * 1024
            length = declared_length(request)
            if length is None or length > limit:
                error = EpcisDocumentTooLarge(details={"bytes": length, "limit": epcis.max_document_bytes()})
                return render(
                    request,
                    "trace/epcis_import.html",
                    {"result": {"details": error.details}, "error": error.message(request.LANGUAGE_CODE)},
                    status=413 if length is not None else 411,
                )
        return protected(request, *args, **kwargs)

    return csrf_exempt(wrapper)
