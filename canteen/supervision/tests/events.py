"""Publish the other domains' events the way they do (payload shapes copied from their code),
so that supervision is tested against what it will receive."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from canteen.core.events import Event, publish


def org(campus) -> dict[str, str]:
    return {
        "campus_id": str(campus.pk),
        "school_id": str(campus.school_id),
        "district_id": str(campus.school.district_id),
    }


def emit(topic: str, payload: dict[str, Any]) -> Event:
    with transaction.atomic():
        return publish(topic, payload)


def meal_served(
    campus,
    *,
    record_id: str | None = None,
    day: date | None = None,
    amount_fen: int = 500,
    session: str = "lunch",
    at: datetime | None = None,
    student_id: str | None = None,
) -> tuple[Event, dict[str, Any]]:
    """As canteen.consumption.services._event_payload(record)."""
    payload = {
        "record_id": record_id or str(uuid.uuid4()),
        "student_id": student_id or str(uuid.uuid4()),
        **org(campus),
        "session_kind": session,
        "served_on": (day or timezone.localdate()).isoformat(),
        "amount_fen": amount_fen,
        "method": "face",
    }
    if at is not None:
        payload["served_at"] = at.isoformat()
    return emit("consumption.meal_served", payload), payload


def meal_voided(served_payload: dict[str, Any], reason: str = "错刷") -> Event:
    return emit("consumption.meal_voided", {**served_payload, "reason": reason})


def ledger(topic: str, campus, amount_fen: int, day: date | None = None) -> Event:
    """As canteen.ledger.services._post(... event=topic)."""
    return emit(
        topic,
        {
            "posting_id": str(uuid.uuid4()),
            **org(campus),
            "amount_fen": amount_fen,
            "on": (day or timezone.localdate()).isoformat(),
            "student_id": None,
        },
    )


def delivery(
    campus,
    *,
    accepted_fen: int,
    rejected: int = 0,
    supplier_id: str = "S1",
    status: str | None = None,
    delivery_id: str | None = None,
    supplier_name: str = "荆楚鲜配",
    **extra: Any,
) -> Event:
    """As canteen.procurement.services (delivery acceptance); rejected_lines is a list."""
    status = status or (
        "rejected" if accepted_fen == 0 and rejected else "accepted" if not rejected else "partially_accepted"
    )
    topic = "procurement.delivery_rejected" if status == "rejected" else "procurement.delivery_accepted"
    return emit(
        topic,
        {
            "delivery_id": delivery_id or str(uuid.uuid4()),
            "delivery_number": "D001",
            "order_id": str(uuid.uuid4()),
            **org(campus),
            "supplier_id": supplier_id,
            "supplier_name": supplier_name,
            "status": status,
            "lines": [],
            "accepted_fen": accepted_fen,
            "rejected_lines": [{"item": "猪肉", "reason": "温度超标", "rejected_quantity": "5"}] * rejected,
            "on": timezone.localdate().isoformat(),
            **extra,
        },
    )


def licence(topic: str, district, *, licence_id: str = "L1", expires_on: date | None = None) -> Event:
    return emit(
        topic,
        {
            "licence_id": licence_id,
            "supplier_id": "S1",
            "supplier_name": "荆楚鲜配",
            "district_id": str(district.pk),
            "kind": "food_business",
            "number": "JY123",
            "expires_on": str(expires_on or timezone.localdate()),
            "required": True,
            "on": str(timezone.localdate()),
        },
    )


def nutrition(campus, *, passed: bool, day: date | None = None, flags: list | None = None) -> Event:
    return emit(
        "meals.nutrition_checked",
        {**org(campus), "day": (day or timezone.localdate()).isoformat(), "passed": passed, "flags": flags or []},
    )


def alarm(campus, *, alarm_id: str | None = None, kind: str = "no_hat") -> Event:
    return emit(
        "kitchen.alarm_raised",
        {
            **org(campus),
            "alarm_id": alarm_id or str(uuid.uuid4()),
            "kind": kind,
            "camera_id": "cam-1",
            "at": timezone.now().isoformat(),
        },
    )


def record_missing(campus, *, kind: str = "sample", meal: str = "lunch", day: date | None = None) -> Event:
    return emit(
        "kitchen.record_missing",
        {**org(campus), "kind": kind, "day": (day or timezone.localdate()).isoformat(), "meal": meal},
    )
