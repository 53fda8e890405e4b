"""The per-campus, per-day menu cache used at the serving window and on the menu board.

Keys carry a generation number that every menu/set-meal/session write bumps after commit, so the
writing process sees its change at once; other processes (each has its own local-memory cache
unless a shared cache is configured) see it within CACHE_SECONDS."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

CACHE_SECONDS = int(getattr(settings, "CANTEEN_MEALS_CACHE_SECONDS", 30))
_generation = 0


def _increment() -> None:
    global _generation
    _generation += 1


def bump() -> None:
    # Now (this process must not serve its own stale copy, also inside a test's transaction)
    # and again after commit (drops anything another request cached from before the commit).
    _increment()
    transaction.on_commit(_increment)


def key(*parts: Any) -> str:
    return "meals:" + ":".join(str(p) for p in (_generation, *parts))


# The serving window reads the day's menus on every checkout; unpickling them from the cache
# cost more than the rest of the offer. `local=True` keeps the object itself in this process
# for LOCAL_SECONDS (same generation key, so a writer's own process never sees a stale copy).
# Callers that ask for it must treat the value as read-only.
LOCAL_SECONDS = min(5, CACHE_SECONDS)
_local: dict[str, tuple[float, Any]] = {}


def get_or_set(cache_key: str, compute, *, local: bool = False):
    if local:
        hit = _local.get(cache_key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    value = cache.get(cache_key)
    if value is None:
        value = compute()
        cache.set(cache_key, value, CACHE_SECONDS)
    if local:
        if len(_local) > 5_000:
            _local.clear()
        _local[cache_key] = (time.monotonic() + LOCAL_SECONDS, value)
    return value
