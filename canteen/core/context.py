"""Per-request context (request id, actor) carried to services without threading it
through every call; services still take the actor explicitly where it matters."""

from __future__ import annotations

import contextvars
import uuid

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str:
    value = request_id_var.get()
    if value is None:
        value = uuid.uuid4().hex
        request_id_var.set(value)
    return value
