"""Domain events: explicit, transactional, and stored.

`publish(topic, payload)` does two things inside the caller's transaction:
1. runs the in-process subscribers registered for the topic (for derived data that must stay
   exact, such as supervision's rollups: they commit or roll back with the fact itself);
2. stores an OutboxEvent row, which the worker relays to consumers that may lag (notifications,
   a broker such as NATS JetStream when a district runs one).

Apps register subscribers in their `handlers.py` (imported by AppConfig.ready):

    @subscribe("consumption.meal_served")
    def count_meal(event: Event) -> None: ...

A subscriber must be idempotent per event id and must not publish to its own topic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from .db import insert_row
from .models import OutboxEvent


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    payload: dict[str, Any]
    occurred_at: Any


_subscribers: dict[str, list[Callable[[Event], None]]] = defaultdict(list)


def subscribe(topic: str) -> Callable[[Callable[[Event], None]], Callable[[Event], None]]:
    def register(handler: Callable[[Event], None]) -> Callable[[Event], None]:
        if handler not in _subscribers[topic]:
            _subscribers[topic].append(handler)
        return handler

    return register


def subscribers_of(topic: str) -> list[Callable[[Event], None]]:
    return list(_subscribers.get(topic, []))


def prepare_subscribers(topic: str, payload: dict[str, Any], occurred_at: Any) -> list[Any] | None:
    """What the in-process subscribers of `topic` would write for an event with this payload,
    computed before the event is stored, for a write path that stores the event and those rows in
    one database call (consumption's checkout). None when a subscriber cannot say in advance
    (it has no `prepare`): the caller must then `publish`. The rows are supervision's rollup
    deltas, the only subscribers with a `prepare` (supervision.handlers.once)."""
    rows: list[Any] = []
    event = Event(id=0, topic=topic, payload=payload, occurred_at=occurred_at)
    for handler in subscribers_of(topic):
        prepare = getattr(handler, "prepare", None)
        if prepare is None:
            return None
        rows.extend(prepare(event))
    return rows


def publish(topic: str, payload: dict[str, Any]) -> Event:
    """Record and dispatch an event; call inside the transaction that made the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("publish() must run inside the transaction that made the change")
    row = insert_row(OutboxEvent(topic=topic, payload=payload))
    event = Event(id=row.id, topic=topic, payload=row.payload, occurred_at=row.occurred_at)
    for handler in subscribers_of(topic):
        handler(event)
    return event
