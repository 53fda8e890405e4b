"""Query and form parameters of the HTML pages, validated before they reach a query.

A value that is not what the page expects is the client's mistake: django.core.exceptions.
BadRequest makes it a 400 page, never a ValueError/OverflowError 500."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.exceptions import BadRequest

# Dates the system can hold a meaningful record for; outside them date arithmetic overflows
# (date(1, 1, 1) - 1 day) or the value is a typo.
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2100, 12, 31)


def int_param(params: Mapping[str, Any], name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise BadRequest(f"{name}: integer {minimum}–{maximum}") from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"{name}: integer {minimum}–{maximum}")
    return value


def date_param(value: str | None, *, default: date) -> date:
    """A YYYY-MM-DD parameter between 2000 and 2100; blank gives `default`."""
    if value is None or not str(value).strip():
        return default
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadRequest("date: YYYY-MM-DD") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise BadRequest(f"date: {MIN_DATE}–{MAX_DATE}")
    return day
