"""Paging, one policy each for the API and the HTML pages.

API lists: limit/offset with a ceiling on the page size. DRF's own LimitOffsetPagination caps
`limit` but passes any `offset` to the database (beyond a bigint that is a DataError, a 500) and
silently falls back to the default on garbage. Here both are validated first and a bad value is a
400 with the project's error body.

HTML lists: `paginate(request, rows)` in the view and `{% include "_pager.html" %}` in the
template (links keep the list's other filters).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

# PostgreSQL's OFFSET is a bigint; no real list comes near it, so the bound is far below.
MAX_OFFSET = 10_000_000


def _bounded_int(raw: str | None, *, name: str, default: int, minimum: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: f"integer {minimum}–{maximum}"}) from None
    if not minimum <= value <= maximum:
        raise ValidationError({name: f"integer {minimum}–{maximum}"})
    return value


class CanteenPagination(LimitOffsetPagination):
    """`?limit=` (1–CANTEEN_API_MAX_PAGE_SIZE, default PAGE_SIZE) and `?offset=` (0–10,000,000)."""

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return settings.CANTEEN_API_MAX_PAGE_SIZE

    def get_limit(self, request: Any) -> int:
        return _bounded_int(
            request.query_params.get(self.limit_query_param),
            name=self.limit_query_param,
            default=self.default_limit,
            minimum=1,
            maximum=self.max_limit,
        )

    def get_offset(self, request: Any) -> int:
        return _bounded_int(
            request.query_params.get(self.offset_query_param),
            name=self.offset_query_param,
            default=0,
            minimum=0,
            maximum=MAX_OFFSET,
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.limit_query_param:
                param["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_limit}
            elif param["name"] == self.offset_query_param:
                param["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
        return params


PER_PAGE = 30


def paginate(request: HttpRequest, rows: Any, per_page: int = PER_PAGE) -> Page:
    page = Paginator(rows, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # "?day=2026-12-08&" + "page=2": the pager's links keep the filters.
    page.query = query.urlencode() + ("&" if query else "")
    return page
