"""With CANTEEN_REDIS_URL set, every web process and the worker share one cache: a count made in
one process (a trace page view, a rate limit) is seen by the others."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from canteen.settings.base import cache_from_url

URL = "redis://127.0.0.1:6379/15"  # a database of its own, away from anything else on the server


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = cache_from_url(URL)  # pytest-django resets the cache handler on change
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    yield cache
    cache.clear()


def test_without_a_url_each_process_keeps_its_own_memory():
    assert cache_from_url("")["default"]["BACKEND"].endswith("LocMemCache")


def test_a_count_made_in_one_process_is_seen_by_another(redis_cache):
    key = f"scan:{uuid.uuid4()}"
    assert redis_cache.add(key, 1, timeout=60)
    redis_cache.incr(key)
    redis_cache.incr(key)
    # Another process builds its own client from the same settings.
    other = RedisCache(URL, {"KEY_PREFIX": "canteen"})
    assert other.get(key) == 3
    other.decr(key, 3)
    assert redis_cache.get(key) == 0


def test_cached_objects_survive_the_trip_through_redis(redis_cache):
    from canteen.core.money import Money

    redis_cache.set("menu-probe", {"price": Money(600), "dishes": ["番茄炒蛋", "米饭"]}, 30)
    assert redis_cache.get("menu-probe") == {"price": Money(600), "dishes": ["番茄炒蛋", "米饭"]}
