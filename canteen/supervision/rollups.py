"""Writes to the rollup tables: atomic F() increments, upserted per (day, campus).

Called by the event handlers inside the publisher's transaction, so a rollup commits or rolls
back with the fact that moved it. `event_claim` makes each outbox event count once.

The checkout path's topics (meals served/voided, meal charges, top-ups) do not touch the shared
rows: `delta_add` appends one RollupDelta and `fold` (periodic) adds the deltas to the rollups
in one transaction. See RollupDelta and docs/decisions.md, "Supervision"."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from canteen.core.db import insert_row

from .models import (
    DELTA_COUNTERS,
    DailyCampusStats,
    DailyDistrictStats,
    DailySpend,
    DistrictSpend,
    HourlyCampusMeals,
    ProcessedEvent,
    RollupDelta,
)

log = logging.getLogger("canteen.supervision")

# Facts that belong to a district but no campus (central purchasing, district-wide payments)
# are filed under this campus/school key; dashboards label it "区级统筹 District level".
DISTRICT_LEVEL = uuid.UUID(int=0)

_district_city: dict[str, uuid.UUID] = {}

ORG_KEYS = ("campus_id", "school_id", "district_id", "city_id")


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
    """True the first time an event is claimed; False when it was already applied.

    One statement, no savepoint of its own: it runs in every checkout (through the meal and
    charge events), where each round trip counts."""
    table = connection.ops.quote_name(ProcessedEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id, topic, processed_at) VALUES (%s, %s, %s) "  # noqa: S608 - our table name
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            [event_id, topic[:80], connection.ops.adapt_datetimefield_value(timezone.now())],
        )
        return cursor.fetchone() is not None


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
    first_meal = _campus_add(day=day, keys=keys, last_served_at=last_served_at, deltas=deltas)
    # The district row is updated after the campus row, always in this order, so two
    # transactions never wait on each other's rows in opposite orders.
    _district_add(
        day=day, district_id=keys.district_id, city_id=keys.city_id, deltas=deltas, first_meals=int(first_meal)
    )


def _campus_add(*, day: date, keys: OrgKeys, last_served_at: datetime | None, deltas: dict[str, int]) -> bool:
    """Upsert the campus-day row; True when these deltas hold the campus-day's first meal."""
    updates: dict[str, Any] = {name: F(name) + value for name, value in deltas.items()}
    values: dict[str, Any] = dict(deltas)
    if last_served_at is not None:
        updates["last_served_at"] = Greatest(
            Coalesce(F("last_served_at"), Value(last_served_at)), Value(last_served_at)
        )
        values["last_served_at"] = last_served_at
    fields = keys.as_fields()
    _upsert(DailyCampusStats, {"day": day, "campus_id": fields.pop("campus_id")}, fields, updates, values)
    if deltas.get("meals_served", 0) <= 0:
        return False
    # Whether this campus-day just started serving (the district's campus-meal-days). We
    # hold the campus row's lock since our UPDATE/INSERT, so the count we read is ours
    # plus what committed before: equal to our delta only for the first meal.
    served = DailyCampusStats.objects.filter(day=day, campus_id=keys.campus_id).values_list("meals_served", flat=True)
    return served.get() == deltas["meals_served"]


def _district_add(
    *, day: date, district_id: uuid.UUID, city_id: uuid.UUID, deltas: dict[str, int], first_meals: int
) -> None:
    updates: dict[str, Any] = {name: F(name) + value for name, value in deltas.items() if value}
    values: dict[str, Any] = {name: value for name, value in deltas.items() if value}
    if first_meals:
        updates["campus_meal_days"] = F("campus_meal_days") + first_meals
        values["campus_meal_days"] = first_meals
    if updates:
        _upsert(DailyDistrictStats, {"day": day, "district_id": district_id}, {"city_id": city_id}, updates, values)


# ------------------------------------------------------------------ deltas (checkout path)

# Set while `supervision_rebuild` replays stored events: deltas are applied to the rollups at
# once (inside the rebuild's savepoint) instead of being appended.
_direct: ContextVar[bool] = ContextVar("supervision_rollups_direct", default=False)
_claim_with_delta: ContextVar[str | None] = ContextVar("supervision_claim_with_delta", default=None)


@contextmanager
def applied_directly() -> Iterator[None]:
    token = _direct.set(True)
    try:
        yield
    finally:
        _direct.reset(token)


def delta_add(
    *,
    event_id: int,
    day: date,
    keys: OrgKeys,
    hour: int | None = None,
    served_at: datetime | None = None,
    **counters: int,
) -> None:
    """Record a high-frequency fact as one INSERT (see RollupDelta); folded later by `fold`."""
    counters = {name: int(value) for name, value in counters.items() if value}
    unknown = set(counters) - set(DELTA_COUNTERS)
    if unknown:
        raise ValueError(f"not a delta counter: {sorted(unknown)}")
    if _direct.get():
        stats_add(day=day, keys=keys, last_served_at=served_at, **counters)
        if hour is not None and counters.get("meals_served"):
            hourly_add(day=day, hour=hour, keys=keys, meals=counters["meals_served"])
        return
    if not counters and served_at is None:
        return
    row = RollupDelta(event_id=event_id, day=day, hour=hour, served_at=served_at, **keys.as_fields(), **counters)
    collected = _collected.get()
    if collected is not None:
        collected.append(row)
        return
    topic = _claim_with_delta.get()
    if topic is None or connection.vendor != "postgresql":
        if topic is not None and not event_claim(event_id=event_id, topic=topic):
            return
        insert_row(row)
        return
    _insert_claimed(row, topic)


@functools.cache
def _claimed_delta_sql() -> tuple[tuple[Any, ...], str]:
    """(delta fields, statement), built once: it runs on every checkout."""
    fields = tuple(f for f in RollupDelta._meta.concrete_fields if not f.primary_key)
    qn = connection.ops.quote_name
    sql = (
        f"WITH claimed AS (INSERT INTO {qn(ProcessedEvent._meta.db_table)} (event_id, topic, processed_at) "  # noqa: S608 - our tables
        "VALUES (%s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING event_id) "
        f"INSERT INTO {qn(RollupDelta._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"SELECT {', '.join(['%s'] * len(fields))} FROM claimed"
    )
    return fields, sql


def _insert_claimed(row: RollupDelta, topic: str) -> None:
    """Claim the event and append its delta in one statement (PostgreSQL): the delta is
    inserted only if the claim is new, so a replayed event adds nothing."""
    fields, sql = _claimed_delta_sql()
    params = [row.event_id, topic[:80], timezone.now()]
    params += [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@contextmanager
def claimed_with_delta(topic: str) -> Iterator[None]:
    """Within: `delta_add` claims the event in the same statement as its delta (the handlers
    of the checkout path, which run without a savepoint of their own)."""
    token = _claim_with_delta.set(topic)
    try:
        yield
    finally:
        _claim_with_delta.reset(token)


_collected: ContextVar[list[RollupDelta] | None] = ContextVar("supervision_collected", default=None)


@contextmanager
def collecting() -> Iterator[list[RollupDelta]]:
    """Within: `delta_add` hands its row to the caller instead of writing it (a handler's rows
    computed before its event is stored; see handlers.once, `prepare`)."""
    rows: list[RollupDelta] = []
    token = _collected.set(rows)
    try:
        yield rows
    finally:
        _collected.reset(token)


def applied_directly_now() -> bool:
    return _direct.get()


def fold(*, limit: int = 20000) -> int:
    """Fold up to `limit` deltas into the rollup tables in one transaction; returns how many.

    The deltas are locked FOR UPDATE SKIP LOCKED, so two folders never take the same delta (a
    second one takes the next ones, or nothing), and deleted in the same transaction that adds
    them: a reader sees a delta either pending or folded, never both. Rows are updated in one
    global order (campus rows, hourly rows, district rows, each sorted), the order a direct
    handler also follows (campus, then district), so folders and handlers never deadlock."""
    with transaction.atomic():
        taken, groups = _take_deltas(limit)
        if not taken:
            return 0
        campus: dict[tuple, dict[str, Any]] = {}
        hourly: dict[tuple, int] = {}
        for g in groups:
            key = (g["day"], str(g["campus_id"]))
            c = campus.setdefault(key, {"keys": OrgKeys(*(g[k] for k in ORG_KEYS)), "last": None, "sums": {}})
            for name in g["counters"]:
                c["sums"][name] = c["sums"].get(name, 0) + g[name]
            if g["served_at"] is not None and (c["last"] is None or g["served_at"] > c["last"]):
                c["last"] = g["served_at"]
            if g["hour"] is not None and g["meals_served"]:
                hourly[(*key, g["hour"])] = hourly.get((*key, g["hour"]), 0) + g["meals_served"]
        district: dict[tuple, dict[str, Any]] = {}
        for key in sorted(campus):
            c = campus[key]
            keys: OrgKeys = c["keys"]
            first = False
            if c["sums"] or c["last"] is not None:
                first = _campus_add(day=key[0], keys=keys, last_served_at=c["last"], deltas=c["sums"])
            d = district.setdefault((key[0], str(keys.district_id)), {"keys": keys, "sums": {}, "first": 0})
            for name, value in c["sums"].items():
                d["sums"][name] = d["sums"].get(name, 0) + value
            d["first"] += int(first)
        for day, campus_id, hour in sorted(hourly):
            hourly_add(day=day, hour=hour, keys=campus[(day, campus_id)]["keys"], meals=hourly[(day, campus_id, hour)])
        for key in sorted(district):
            d = district[key]
            _district_add(
                day=key[0],
                district_id=d["keys"].district_id,
                city_id=d["keys"].city_id,
                deltas=d["sums"],
                first_meals=d["first"],
            )
    return taken


_GROUP_KEYS = ("day", *ORG_KEYS, "hour")


def _take_deltas(limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Take (lock and delete) up to `limit` pending deltas, summed per campus, day and hour:
    (how many, the sums). Each sum says which counters any of its deltas moved (`counters`),
    so a counter that netted to zero still touches its row, as one delta at a time would.

    On PostgreSQL one statement locks, deletes and sums them, and only the sums travel (a few
    rows per campus instead of one per meal: the worker's Python CPU per meal was most of its
    cost). Elsewhere the rows are read, summed here and deleted."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_take_deltas_sql(), [limit])
            rows = cursor.fetchall()
        n = len(_GROUP_KEYS)
        groups = []
        taken = 0
        for row in rows:
            g = dict(zip(_GROUP_KEYS, row[:n], strict=True))
            taken += row[n]
            g["served_at"] = row[n + 1]
            sums = row[n + 2 :]
            moved = []
            for i, name in enumerate(DELTA_COUNTERS):
                g[name] = int(sums[2 * i] or 0)
                if sums[2 * i + 1]:
                    moved.append(name)
            g["counters"] = moved
            groups.append(g)
        return taken, groups
    rows = list(
        RollupDelta.objects.select_for_update(skip_locked=True)
        .order_by("id")
        .values("id", "served_at", *_GROUP_KEYS, *DELTA_COUNTERS)[:limit]
    )
    sums: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        g = sums.setdefault(
            tuple(r[k] for k in _GROUP_KEYS),
            {**{k: r[k] for k in _GROUP_KEYS}, "served_at": None, "counters": [], **dict.fromkeys(DELTA_COUNTERS, 0)},
        )
        for name in DELTA_COUNTERS:
            if r[name]:
                g[name] += r[name]
                if name not in g["counters"]:
                    g["counters"].append(name)
        if r["served_at"] is not None and (g["served_at"] is None or r["served_at"] > g["served_at"]):
            g["served_at"] = r["served_at"]
    if rows:
        RollupDelta.objects.filter(id__in=[r["id"] for r in rows]).delete()
    return len(rows), list(sums.values())


@functools.cache
def _take_deltas_sql() -> str:
    table = connection.ops.quote_name(RollupDelta._meta.db_table)
    keys = ", ".join(_GROUP_KEYS)
    sums = ", ".join(f"sum({c}), bool_or({c} <> 0)" for c in DELTA_COUNTERS)
    return (
        f"WITH picked AS (SELECT id FROM {table} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED), "  # noqa: S608 - our table
        f"gone AS (DELETE FROM {table} d USING picked p WHERE d.id = p.id RETURNING d.*) "
        f"SELECT {keys}, count(*), max(served_at), {sums} FROM gone GROUP BY {keys}"
    )


def fold_all() -> int:
    """Fold until nothing is pending (tests, the rebuild command, a worker catching up)."""
    total = 0
    while n := fold():
        total += n
    return total


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
