"""What needs the user now, shown at the top of the home page before any figure: cases due,
records missing, deliveries waiting, balances low.

Domains contribute providers, registered in their AppConfig.ready():

    from canteen.core.todo import register
    register(todo.todo_items)        # todo_items(actor) -> list[Todo]

A provider reads through its domain's selectors, scoped to the actor, and returns nothing for a
role it has nothing to say to. Another service with its own to-do list (the notification
inbox) registers its function the same way; a provider may return Todo objects or dicts with
the same keys."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

URGENT, WARN, INFO = "urgent", "warn", "info"
_ORDER = {URGENT: 0, WARN: 1, INFO: 2}


@dataclass(frozen=True)
class Todo:
    text: str  # in the active language
    url: str
    level: str = INFO
    count: int | None = None
    due: datetime | None = None
    kind: str = ""  # "<app>.<what>", for tests and styling; never shown


Provider = Callable[[Any], Iterable[Any]]
_providers: list[Provider] = []


def register(provider: Provider) -> Provider:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def _as_todo(item: Any) -> Todo:
    if isinstance(item, Todo):
        return item
    fields = {k: item[k] for k in ("text", "url", "level", "count", "due", "kind") if k in item}
    return Todo(**fields)


def todo_for(actor: Any) -> list[Todo]:
    """Every provider's items for `actor`, most urgent first, then the earliest due."""
    if not getattr(actor, "is_authenticated", False):
        return []
    items: list[Todo] = []
    for provider in _providers:
        try:
            items.extend(_as_todo(item) for item in provider(actor) or ())
        except Exception:
            # One domain's failure must not take the home page down; it is logged loudly.
            log.exception("to-do provider %s failed", getattr(provider, "__qualname__", provider))
    return sorted(
        items, key=lambda t: (_ORDER.get(t.level, 3), t.due is None, t.due.timestamp() if t.due else 0, t.text)
    )
