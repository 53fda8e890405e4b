"""Times shown to people are in the district's time zone (settings.TIME_ZONE, Asia/Shanghai).

The database hands back UTC; `value.isoformat()` in a JSON feed then shows 23:16 for a meal
served at 07:16 Beijing time. Feeds and pages format through these helpers."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def local_iso(value: datetime | None) -> str | None:
    """ISO 8601 with the local offset ("2026-12-08T07:16:00+08:00"), None for None."""
    if value is None:
        return None
    if timezone.is_naive(value):
        return value.isoformat()
    return timezone.localtime(value).isoformat()
