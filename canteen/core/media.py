"""Uploaded files under MEDIA_URL are served through one view that asks the owning domain
whether the viewer may see the file: case evidence and licence scans only within the viewer's
scope, nothing by knowing the link. Public documents (a trace page's QC report) keep their own
public routes in their domain.

Each app declares on its AppConfig which stored paths it owns and who may read them:

    media_access = {"supervision/cases/": "canteen.supervision.media.may_read"}

`may_read(user, name) -> bool` (`user` may be anonymous). A path no app claims is never served."""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Callable
from functools import cache

from django.apps import apps
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string


@cache
def _rules() -> tuple[tuple[str, Callable], ...]:
    found = []
    for config in apps.get_app_configs():
        for prefix, path in getattr(config, "media_access", {}).items():
            found.append((prefix, import_string(path)))
    # The longest prefix decides.
    return tuple(sorted(found, key=lambda rule: -len(rule[0])))


def may_read(user, name: str) -> bool:
    for prefix, rule in _rules():
        if name.startswith(prefix):
            return bool(rule(user, name))
    return False


def serve_media(request: HttpRequest, name: str) -> HttpResponse:
    name = posixpath.normpath(name).lstrip("/")
    if name.startswith("..") or not may_read(request.user, name) or not default_storage.exists(name):
        # 404, not 403: a file outside the viewer's scope is not confirmed to exist.
        raise Http404
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "private, max-age=300"
    return response
