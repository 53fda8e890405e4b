"""Writes to the rollup tables: atomic F() increments, upserted per (day, campus).

Called by the event handlers inside the publisher's transaction, so a rollup commits or rolls
back with the fact that moved it. `event_claim` makes each outbox event count once."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .models import DailyCampusStats, DailyDistrictStats, DailySpend, DistrictSpend, HourlyCampusMeals, ProcessedEvent

log = logging.getLogger("canteen.supervision")

# Facts that belong to a district but no campus (central purchasing, district-wide payments)
# are filed under this campus/school key; dashboards label it "区级统筹 District level".
DISTRICT_LEVEL = uuid.UUID(int=0)

_district_city: dict[str, uuid.UUID] = {}


@dataclass(frozen=True)
class OrgKeys:
    campus_id: uuid.UUID
    school_id: uuid.UUID
    district_id: uuid.UUID
    city_id: uuid.UUID

    def as_fields(self) -> dict[str, uuid.UUID]:
        return {
            "campus_id": self.campus_id,
            "school_id": self.school_id,
            "district_id": self.district_id,
            "city_id": self.city_id,
        }


def _uuid(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def resolve_org(payload: dict[str, Any]) -> OrgKeys | None:
    """Org keys from an event payload; fills what is missing from org (one indexed query)."""
    from canteen.org.models import Campus, District, School

    campus_id = _uuid(payload.get("campus_id"))
    school_id = _uuid(payload.get("school_id"))
    district_id = _uuid(payload.get("district_id"))
    if campus_id and not (school_id and district_id):
        row = Campus.objects.filter(pk=campus_id).values("school_id", "school__district_id").first()
        if row is None:
            return None
        school_id, district_id = row["school_id"], row["school__district_id"]
    if school_id and not district_id:
        district_id = School.objects.filter(pk=school_id).values_list("district_id", flat=True).first()
    if district_id is None:
        return None
    city_id = _uuid(payload.get("city_id")) or _district_city.get(str(district_id))
    if city_id is None:
        # A district never moves to another city, so the answer can be kept for the process.
        city_id = District.objects.filter(pk=district_id).values_list("city_id", flat=True).first()
        if city_id is None:
            return None
        _district_city[str(district_id)] = city_id
    return OrgKeys(
        campus_id=campus_id or DISTRICT_LEVEL,
        school_id=school_id or DISTRICT_LEVEL,
        district_id=district_id,
        city_id=city_id,
    )


def event_day(payload: dict[str, Any], *keys: str, default: datetime | None = None) -> date:
    """The business day of an event: the first of `keys` present, then "date", then `default`."""
    for key in (*keys, "date", "day", "on"):
        value = payload.get(key)
        if isinstance(value, datetime):
            return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str) and value:
            parsed_dt = parse_datetime(value)
            if parsed_dt is not None and "T" in value:
                return timezone.localtime(parsed_dt).date() if timezone.is_aware(parsed_dt) else parsed_dt.date()
            parsed = parse_date(value[:10])
            if parsed is not None:
                return parsed
    return timezone.localdate(default) if default else timezone.localdate()


def event_time(payload: dict[str, Any], *keys: str, default: datetime | None = None) -> datetime | None:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, datetime):
            return value if timezone.is_aware(value) else timezone.make_aware(value)
        if isinstance(value, str) and value:
            parsed = parse_datetime(value)
            if parsed is not None:
                return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    return default


def event_claim(*, event_id: int, topic: str) -> bool:
    """True the first time an event is claimed; False when it was already applied."""
    try:
        with transaction.atomic():
            ProcessedEvent.objects.create(event_id=event_id, topic=topic)
    except IntegrityError:
        return False
    return True


def _upsert(model, lookup: dict[str, Any], create_extra: dict[str, Any], updates: dict[str, Any], values: dict) -> bool:
    """UPDATE … SET x = x + n; when no row exists, INSERT; when a concurrent transaction
    inserted first, the unique constraint refuses ours and the UPDATE runs again.
    Returns True when this call created the row."""
    qs = model.objects.filter(**lookup)
    if qs.update(**updates):
        return False
    try:
        with transaction.atomic():
            model.objects.create(**lookup, **create_extra, **values)
    except IntegrityError:
        qs.update(**updates)
        return False
    return True


def stats_add(*, day: date, keys: OrgKeys, last_served_at: datetime | None = None, **deltas: int) -> None:
    """Add `deltas` (counter name → amount, may be negative) to the campus-day row."""
    deltas = {name: int(value) for name, value in deltas.items() if value}
    if not deltas and last_served_at is None:
        return
    updates: dict[str, Any] = {name: F(name) + value for name, value in deltas.items()}
    values: dict[str, Any] = dict(deltas)
    if last_served_at is not None:
        updates["last_served_at"] = Greatest(
            Coalesce(F("last_served_at"), Value(last_served_at)), Value(last_served_at)
        )
        values["last_served_at"] = last_served_at
    fields = keys.as_fields()
    _upsert(DailyCampusStats, {"day": day, "campus_id": fields.pop("campus_id")}, fields, updates, values)
    first_meal = False
    if deltas.get("meals_served", 0) > 0:
        # Whether this campus-day just started serving (the district's campus-meal-days). We
        # hold the campus row's lock since our UPDATE/INSERT, so the count we read is ours
        # plus what committed before: equal to our delta only for the first meal.
        served = DailyCampusStats.objects.filter(day=day, campus_id=keys.campus_id).values_list(
            "meals_served", flat=True
        )
        first_meal = served.get() == deltas["meals_served"]
    # The district row is updated after the campus row, always in this order, so two
    # transactions never wait on each other's rows in opposite orders.
    district_updates = {k: v for k, v in updates.items() if k != "last_served_at"}
    district_values = {k: v for k, v in values.items() if k != "last_served_at"}
    if first_meal:
        district_updates["campus_meal_days"] = F("campus_meal_days") + 1
        district_values["campus_meal_days"] = 1
    if district_updates:
        _upsert(
            DailyDistrictStats,
            {"day": day, "district_id": keys.district_id},
            {"city_id": keys.city_id},
            district_updates,
            district_values,
        )


def hourly_add(*, day: date, hour: int, keys: OrgKeys, meals: int) -> None:
    fields = keys.as_fields()
    _upsert(
        HourlyCampusMeals,
        {"day": day, "hour": hour, "campus_id": fields.pop("campus_id")},
        fields,
        {"meals": F("meals") + meals},
        {"meals": meals},
    )


def spend_add(
    *, day: date, keys: OrgKeys, supplier_id: str, supplier_name: str = "", category: str = "", amount_fen: int
) -> None:
    fields = keys.as_fields()
    _upsert(
        DailySpend,
        {"day": day, "campus_id": fields.pop("campus_id"), "supplier_id": supplier_id[:64], "category": category[:60]},
        {**fields, "supplier_name": supplier_name[:120]},
        {"amount_fen": F("amount_fen") + amount_fen},
        {"amount_fen": amount_fen},
    )
    _upsert(
        DistrictSpend,
        {"day": day, "district_id": keys.district_id, "supplier_id": supplier_id[:64], "category": category[:60]},
        {"city_id": keys.city_id, "supplier_name": supplier_name[:120]},
        {"amount_fen": F("amount_fen") + amount_fen},
        {"amount_fen": amount_fen},
    )
