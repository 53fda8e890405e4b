"""Every HTML list is paged the same way: `paginate(request, rows)` in the view and
`{% include "_pager.html" %}` in the template (links keep the list's other filters).
The API's paging is DRF's."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PER_PAGE = 30


def paginate(request: HttpRequest, rows: Any, per_page: int = PER_PAGE) -> Page:
    page = Paginator(rows, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # "?day=2026-12-08&" + "page=2": the pager's links keep the filters.
    page.query = query.urlencode() + ("&" if query else "")
    return page
