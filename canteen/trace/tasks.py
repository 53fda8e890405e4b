"""Periodic trace jobs."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import F

from canteen.core.worker import periodic

from .models import TraceCode
from .views import SCAN_KEY


@periodic(seconds=60, name="trace.flush_scan_counts")
def flush_scan_counts() -> str:
    """Move scan counts from the cache to the database. Idempotent per run: a count is taken
    out of the cache (decremented by what was read) before it is added to the row."""
    pending = cache.get(SCAN_KEY) or set()
    cache.delete(SCAN_KEY)
    flushed = 0
    for code_id in pending:
        key = f"{SCAN_KEY}:{code_id}"
        n = cache.get(key) or 0
        if not n:
            continue
        try:
            cache.decr(key, n)
        except ValueError:
            continue
        TraceCode.objects.filter(pk=code_id).update(scans=F("scans") + n)
        flushed += n
    return f"{flushed} scans"
