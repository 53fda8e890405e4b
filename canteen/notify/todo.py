"""The notification service's part of the home page's "needs you now" (canteen.core.todo): the
unread inbox, cases escalated to the actor's level, and dead-lettered messages. Cases, alarms and
missing records come from their own domains' providers and are not listed twice."""

from __future__ import annotations

from typing import Any

from canteen.core.todo import INFO, URGENT, WARN, Todo

from . import selectors

OWN_KINDS = {"inbox", "escalated", "dead_letters"}


def todo_items(actor: Any) -> list[Todo]:
    items = []
    for item in selectors.todo_for(actor):
        if item["kind"] not in OWN_KINDS:
            continue
        level = URGENT if item.get("urgent") else (INFO if item["kind"] == "inbox" else WARN)
        due = item.get("at") if item["kind"] == "escalated" else None
        items.append(Todo(text=item["text"], url=item["url"], level=level, due=due, kind=f"notify.{item['kind']}"))
    return items
