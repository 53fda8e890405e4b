"""Recompute the rollups from source facts and report (optionally repair) every difference.

Sources:
- meals: consumption's meal records (`MealRecord`), counted directly with GROUP BY, when the
  consumption app provides them (`meals_from="records"`); otherwise the stored events;
- everything else (ledger, procurement, meals, kitchen): the stored outbox events, replayed
  through the very handlers that maintain the rollups, inside a savepoint that is rolled back;
- parent feedback: the Feedback table.

The replay reads the handlers' results and discards their writes, so nothing is written unless
`apply=True`, and then only the rows that differ (per table and date range)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractHour, TruncDate

from canteen.core.events import Event
from canteen.core.models import OutboxEvent

from . import rollups
from .models import (
    DAILY_COUNTERS,
    DELTA_COUNTERS,
    DailyCampusStats,
    DailyDistrictStats,
    DailySpend,
    DistrictSpend,
    Feedback,
    HourlyCampusMeals,
    RollupDelta,
)

MEAL_TOPICS = ("consumption.meal_served", "consumption.meal_voided")
DELIVERY_TOPICS = ("procurement.delivery_accepted", "procurement.delivery_rejected", "procurement.batch_accepted")
DELIVERY_COLUMNS = (
    "deliveries_accepted",
    "deliveries_rejected",
    "deliveries_traced",
    "delivery_accepted_fen",
    "batches_accepted",
)
MEAL_COLUMNS = (
    "meals_served",
    "meals_voided",
    "meals_breakfast",
    "meals_lunch",
    "meals_dinner",
    "meal_revenue_fen",
)

TABLES: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    # name: (model, key fields, value fields)
    "daily": (DailyCampusStats, ("day", "campus_id"), tuple(DAILY_COUNTERS)),
    "hourly": (HourlyCampusMeals, ("day", "campus_id", "hour"), ("meals",)),
    "spend": (DailySpend, ("day", "campus_id", "supplier_id", "category"), ("amount_fen",)),
}
ORG_FIELDS = ("school_id", "district_id", "city_id")
# Per-district tables: always the sums of the per-campus ones, so they are derived from the
# recomputed campus rows rather than recounted.
DISTRICT_TABLES: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...], str]] = {
    "district_daily": (DailyDistrictStats, ("day", "district_id"), (*DAILY_COUNTERS, "campus_meal_days"), "daily"),
    "district_spend": (DistrictSpend, ("day", "district_id", "supplier_id", "category"), ("amount_fen",), "spend"),
}


@dataclass
class Difference:
    table: str
    key: tuple
    field: str
    actual: int
    expected: int

    def __str__(self) -> str:
        key = " ".join(str(k) for k in self.key)
        return f"{self.table} [{key}] {self.field}: rollup={self.actual} source={self.expected}"


@dataclass
class RebuildReport:
    rows_compared: int = 0
    events_replayed: int = 0
    meals_from: str = "events"
    deliveries_from: str = "events"
    differences: list[Difference] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.differences


def _records_available() -> bool:
    try:
        from canteen.consumption.models import MealRecord  # noqa: F401
    except ImportError:
        return False
    return True


def _snapshot(
    model: Any,
    keys: tuple[str, ...],
    values: tuple[str, ...],
    start: date | None,
    end: date | None,
    org: tuple = ORG_FIELDS,
) -> dict:
    qs = model.objects.all()
    if start:
        qs = qs.filter(day__gte=start)
    if end:
        qs = qs.filter(day__lte=end)
    return {tuple(str(r[k]) if k != "day" else r[k] for k in keys): r for r in qs.values(*keys, *values, *org)}


def _org_fields(table: str) -> tuple[str, ...]:
    # Spend rows also carry the supplier's name, kept when a row is rewritten.
    return (*ORG_FIELDS, "supplier_name") if table == "spend" else ORG_FIELDS


def _district_of(row: dict) -> str | None:
    if row.get("district_id"):
        return str(row["district_id"])
    keys = rollups.resolve_org({"campus_id": row["campus_id"]})
    return str(keys.district_id) if keys else None


def _derive_districts(expected: dict[str, dict]) -> dict[str, dict]:
    """Sum the recomputed per-campus rows per district (and count the campus-days served)."""
    derived: dict[str, dict] = {"district_daily": {}, "district_spend": {}}
    for row in expected["daily"].values():
        district = _district_of(row)
        if district is None:
            continue
        out = derived["district_daily"].setdefault((row["day"], district), {"day": row["day"], "district_id": district})
        for name in DAILY_COUNTERS:
            out[name] = out.get(name, 0) + int(row.get(name) or 0)
        out["campus_meal_days"] = out.get("campus_meal_days", 0) + (1 if int(row.get("meals_served") or 0) > 0 else 0)
    for row in expected["spend"].values():
        district = _district_of(row)
        if district is None:
            continue
        key = (row["day"], district, str(row["supplier_id"]), str(row["category"]))
        out = derived["district_spend"].setdefault(
            key,
            {
                "day": row["day"],
                "district_id": district,
                "supplier_id": row["supplier_id"],
                "category": row["category"],
                "supplier_name": row.get("supplier_name") or "",
            },
        )
        out["amount_fen"] = out.get("amount_fen", 0) + int(row.get("amount_fen") or 0)
    return derived


def _replay(topics: list[str], start: date | None) -> int:
    from .handlers import HANDLERS

    events = OutboxEvent.objects.filter(topic__in=topics).order_by("id")
    if start:
        # A fact's business day can precede its event by a little (offline terminals, late
        # deliveries); a week's margin covers it.
        events = events.filter(occurred_at__date__gte=start - timedelta(days=7))
    n = 0
    for row in events.iterator(chunk_size=2000):
        if not isinstance(row.payload, dict):
            continue
        HANDLERS[row.topic](Event(id=row.id, topic=row.topic, payload=row.payload, occurred_at=row.occurred_at))
        n += 1
    return n


def _meal_rows(start: date | None, end: date | None) -> tuple[dict, dict]:
    """Meal columns per (day, campus) and meals per (day, campus, hour), counted directly."""
    from canteen.consumption.models import MealRecord

    qs = MealRecord.objects.all()
    if start:
        qs = qs.filter(served_on__gte=start)
    if end:
        qs = qs.filter(served_on__lte=end)
    live = Q(status="served")
    daily: dict = {}
    for r in qs.values("served_on", "campus_id", "school_id", "district_id").annotate(
        served=Count("pk"),
        voided=Count("pk", filter=~live),
        breakfast=Count("pk", filter=live & Q(session_kind="breakfast")),
        lunch=Count("pk", filter=live & Q(session_kind="lunch")),
        dinner=Count("pk", filter=live & Q(session_kind__in=["dinner", "supper"])),
        revenue=Sum("price_fen", filter=live),
    ):
        daily[(r["served_on"], str(r["campus_id"]))] = {
            "meals_served": r["served"],
            "meals_voided": r["voided"],
            "meals_breakfast": r["breakfast"],
            "meals_lunch": r["lunch"],
            "meals_dinner": r["dinner"],
            "meal_revenue_fen": r["revenue"] or 0,
            "school_id": r["school_id"],
            "district_id": r["district_id"],
        }
    hourly: dict = {}
    for r in (
        qs.annotate(hour=ExtractHour("served_at")).values("served_on", "campus_id", "hour").annotate(n=Count("pk"))
    ):
        hourly[(r["served_on"], str(r["campus_id"]), str(r["hour"]))] = r["n"]
    return daily, hourly


def _procurement_available() -> bool:
    try:
        from canteen.procurement.models import Delivery  # noqa: F401
    except ImportError:
        return False
    return True


def _delivery_rows(start: date | None, end: date | None) -> tuple[dict, dict]:
    """Delivery columns per (day, campus) and spend per (day, campus, supplier, category),
    counted from procurement's deliveries and batches (procurement's demo writes them without
    events). The day is the local date of acceptance, as in procurement's events."""
    from decimal import ROUND_HALF_UP, Decimal

    from django.utils import timezone

    from canteen.procurement.models import Batch, Delivery

    accepted_states = ("accepted", "partially_accepted")
    deliveries = Delivery.objects.filter(status__in=(*accepted_states, "rejected"), accepted_at__isnull=False)
    daily: dict = {}
    traced = _traced_deliveries(deliveries.filter(status__in=accepted_states))
    for d in deliveries.values(
        "pk", "status", "accepted_at", "accepted_fen", "campus_id", "campus__school_id", "district_id"
    ):
        day = timezone.localdate(d["accepted_at"])
        if (start and day < start) or (end and day > end):
            continue
        row = daily.setdefault(
            (day, str(d["campus_id"])),
            {name: 0 for name in DELIVERY_COLUMNS}
            | {"school_id": d["campus__school_id"], "district_id": d["district_id"]},
        )
        if d["status"] == "rejected":
            row["deliveries_rejected"] += 1
            continue
        row["deliveries_accepted"] += 1
        row["delivery_accepted_fen"] += d["accepted_fen"]
        row["deliveries_traced"] += 1 if d["pk"] in traced else 0
    spend: dict = {}
    batches = Batch.objects.filter(accepted_quantity__gt=0, accepted_at__isnull=False).values(
        "accepted_at", "campus_id", "campus__school_id", "district_id", "supplier_id", "supplier__name",
        "item__category", "accepted_quantity", "delivery_line__price_fen",
    )  # fmt: skip
    for b in batches:
        day = timezone.localdate(b["accepted_at"])
        if (start and day < start) or (end and day > end):
            continue
        fen = int(
            (b["accepted_quantity"] * b["delivery_line__price_fen"]).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        )
        key = (day, str(b["campus_id"]), str(b["supplier_id"]), b["item__category"])
        row = spend.setdefault(
            key,
            {"day": day, "campus_id": str(b["campus_id"]), "supplier_id": str(b["supplier_id"]),
             "supplier_name": b["supplier__name"], "category": b["item__category"], "amount_fen": 0,
             "school_id": b["campus__school_id"], "district_id": b["district_id"]},
        )  # fmt: skip
        row["amount_fen"] += fen
        counts = daily.get((day, str(b["campus_id"])))
        if counts is not None:
            counts["batches_accepted"] += 1
    return daily, spend


def _traced_deliveries(deliveries: Any) -> set:
    """Deliveries whose every accepted batch has a trace code and that have a transport track."""
    try:
        from canteen.trace.models import TraceCode, TransportTrack
    except ImportError:
        return set()
    from canteen.procurement.models import Batch

    ids = set(deliveries.values_list("pk", flat=True))
    with_track = set(TransportTrack.objects.filter(delivery_id__in=ids).values_list("delivery_id", flat=True))
    coded = set(TraceCode.objects.filter(batch__delivery_line__delivery_id__in=ids).values_list("batch_id", flat=True))
    missing = {
        b["delivery_line__delivery_id"]
        for b in Batch.objects.filter(delivery_line__delivery_id__in=ids, accepted_quantity__gt=0).values(
            "pk", "delivery_line__delivery_id"
        )
        if b["pk"] not in coded
    }
    return with_track - missing


def _feedback_rows(start: date | None, end: date | None) -> dict:
    qs = Feedback.objects.annotate(day=TruncDate("created_at"))
    if start:
        qs = qs.filter(day__gte=start)
    if end:
        qs = qs.filter(day__lte=end)
    return {(r["day"], str(r["campus_id"])): r["n"] for r in qs.values("day", "campus_id").annotate(n=Count("pk"))}


def rollups_rebuild(
    *,
    start: date | None = None,
    end: date | None = None,
    apply: bool = False,
    meals_from: str | None = None,
    records_only: bool = False,
    deliveries_from: str | None = None,
) -> RebuildReport:
    """`records_only`: recount only what has records of its own (meals from consumption,
    deliveries and spend from procurement), with no event replay: fast enough for the demo seed
    and a nightly check; the other columns are left as they are."""
    meals_from = meals_from or ("records" if _records_available() else "events")
    if records_only and meals_from != "records":
        raise ValueError("records_only needs the meal records")
    deliveries_from = deliveries_from or ("records" if _procurement_available() else "events")
    report = RebuildReport(meals_from=meals_from, deliveries_from=deliveries_from)
    with transaction.atomic():
        # Deltas of the checkout path: fold what is pending, and count what arrives meanwhile
        # as part of the rollups ("actual" is what a dashboard shows: rollup + pending).
        rollups.fold_all()
        pending = _pending(start, end)
        actual = {name: _snapshot(m, k, v, start, end, org=_org_fields(name)) for name, (m, k, v) in TABLES.items()}
        _add_pending(actual, pending, ("daily", "hourly"))
        if records_only:
            expected = {name: {k: dict(v) for k, v in rows.items()} for name, rows in actual.items()}
        else:
            # Replay inside a savepoint that is always rolled back: only what it computed survives.
            sid = transaction.savepoint()
            try:
                for model, _, _ in TABLES.values():
                    model.objects.all().delete()
                from .handlers import HANDLERS

                topics = [
                    t
                    for t in HANDLERS
                    if (meals_from == "events" or t not in MEAL_TOPICS)
                    and (deliveries_from == "events" or t not in DELIVERY_TOPICS)
                ]
                with rollups.applied_directly():
                    report.events_replayed = _replay(topics, start)
                expected = {
                    name: _snapshot(m, k, v, start, end, org=_org_fields(name)) for name, (m, k, v) in TABLES.items()
                }
            finally:
                transaction.savepoint_rollback(sid)

        if meals_from == "records":
            daily, hourly = _meal_rows(start, end)
            for key, cols in daily.items():
                row = expected["daily"].setdefault(key, {"day": key[0], "campus_id": key[1], **_org_of(cols)})
                for name in MEAL_COLUMNS:
                    row[name] = cols[name]
            for row in expected["daily"].values():
                key = (row["day"], str(row["campus_id"]))
                if key not in daily:
                    for name in MEAL_COLUMNS:
                        row[name] = 0
            expected["hourly"] = {}
            for (day, campus, hour), n in hourly.items():
                org = _org_of(daily.get((day, campus), {}))
                expected["hourly"][(day, campus, hour)] = {
                    "day": day,
                    "campus_id": campus,
                    "hour": int(hour),
                    "meals": n,
                    **org,
                }
        if deliveries_from == "records":
            deliveries, spend = _delivery_rows(start, end)
            for key, cols in deliveries.items():
                row = expected["daily"].setdefault(key, {"day": key[0], "campus_id": key[1], **_org_of(cols)})
                for name in DELIVERY_COLUMNS:
                    row[name] = cols[name]
            for key, row in expected["daily"].items():
                if key not in deliveries:
                    for name in DELIVERY_COLUMNS:
                        row[name] = 0
            expected["spend"] = {key: {**row, "city_id": _org_of(row)["city_id"]} for key, row in spend.items()}
        feedback = {} if records_only else _feedback_rows(start, end)
        for row in expected["daily"].values():
            if not records_only:
                row["feedback_count"] = feedback.pop((row["day"], str(row["campus_id"])), 0)
        for (day, campus), n in feedback.items():
            expected["daily"][(day, campus)] = {"day": day, "campus_id": campus, "feedback_count": n}

        expected.update(_derive_districts(expected))
        for name, (model, keys, values, _) in DISTRICT_TABLES.items():
            actual[name] = _snapshot(model, keys, values, start, end, org=("city_id",))
        _add_pending(actual, pending, ("district_daily",))
        for name, values in [(n, t[2]) for n, t in TABLES.items()] + [(n, t[2]) for n, t in DISTRICT_TABLES.items()]:
            for key in sorted(set(actual[name]) | set(expected[name]), key=str):
                report.rows_compared += 1
                a, e = actual[name].get(key, {}), expected[name].get(key, {})
                for value in values:
                    if int(a.get(value) or 0) != int(e.get(value) or 0):
                        report.differences.append(
                            Difference(name, key, value, int(a.get(value) or 0), int(e.get(value) or 0))
                        )
        if apply and report.differences:
            _apply(report, _minus_pending(expected, pending))
            report.applied = True
    return report


def _pending(start: date | None, end: date | None) -> dict[str, dict]:
    """Deltas not yet folded, keyed like the snapshots of the tables they will move."""
    qs = RollupDelta.objects.all()
    if start:
        qs = qs.filter(day__gte=start)
    if end:
        qs = qs.filter(day__lte=end)
    out: dict[str, dict] = {"daily": {}, "hourly": {}, "district_daily": {}}
    sums = {name: Sum(name) for name in DELTA_COUNTERS}
    for r in qs.values("day", "campus_id", "district_id").annotate(**sums):
        out["daily"][(r["day"], str(r["campus_id"]))] = {name: r[name] or 0 for name in DELTA_COUNTERS}
        row = out["district_daily"].setdefault((r["day"], str(r["district_id"])), {"campus_meal_days": 0})
        for name in DELTA_COUNTERS:
            row[name] = row.get(name, 0) + (r[name] or 0)
        if (r["meals_served"] or 0) > 0 and not DailyCampusStats.objects.filter(
            day=r["day"], campus_id=r["campus_id"], meals_served__gt=0
        ).exists():
            row["campus_meal_days"] += 1
    for r in qs.filter(hour__isnull=False).values("day", "campus_id", "hour").annotate(n=Sum("meals_served")):
        out["hourly"][(r["day"], str(r["campus_id"]), str(r["hour"]))] = {"meals": r["n"] or 0}
    return out


def _add_pending(actual: dict[str, dict], pending: dict[str, dict], tables: tuple[str, ...]) -> None:
    for name in tables:
        for key, values in pending[name].items():
            row = actual[name].setdefault(key, {})
            for value_name, value in values.items():
                row[value_name] = int(row.get(value_name) or 0) + value


def _minus_pending(expected: dict[str, dict], pending: dict[str, dict]) -> dict[str, dict]:
    """What the rollup rows must hold so that rollup + pending deltas equals the source."""
    out = {name: {k: dict(v) for k, v in rows.items()} for name, rows in expected.items()}
    for name, rows in pending.items():
        for key, values in rows.items():
            row = out[name].setdefault(key, dict(zip(TABLES.get(name, DISTRICT_TABLES.get(name))[1], key, strict=True)))
            for value_name, value in values.items():
                row[value_name] = int(row.get(value_name) or 0) - value
    return out


def _org_of(cols: dict) -> dict:
    keys = (
        rollups.resolve_org({"school_id": cols.get("school_id"), "district_id": cols.get("district_id")})
        if cols
        else None
    )
    return {
        "school_id": cols.get("school_id"),
        "district_id": cols.get("district_id"),
        "city_id": keys.city_id if keys else None,
    }


def _apply(report: RebuildReport, expected: dict[str, dict]) -> None:
    """Rewrite the rows that differ (rows with no source facts left are deleted)."""
    touched: dict[str, set] = defaultdict(set)
    for diff in report.differences:
        touched[diff.table].add(diff.key)
    for name, keys_touched in touched.items():
        if name in DISTRICT_TABLES:
            _apply_district(name, keys_touched, expected[name])
            continue
        model, keys, values = TABLES[name]
        for key in keys_touched:
            lookup = dict(zip(keys, key, strict=True))
            if "hour" in lookup:
                lookup["hour"] = int(lookup["hour"])
            row = expected[name].get(key)
            model.objects.filter(**lookup).delete()
            if row and any(int(row.get(v) or 0) for v in values):
                org = _fill_org(row)
                if org is None:
                    continue
                extra = {"supplier_name": row.get("supplier_name") or ""} if name == "spend" else {}
                model.objects.create(**lookup, **org, **extra, **{v: int(row.get(v) or 0) for v in values})


def _fill_org(row: dict) -> dict | None:
    if row.get("school_id") and row.get("district_id") and row.get("city_id"):
        return {k: row[k] for k in ORG_FIELDS}
    keys = rollups.resolve_org({"campus_id": row["campus_id"]})
    if keys is None:
        return None
    return {"school_id": keys.school_id, "district_id": keys.district_id, "city_id": keys.city_id}


def _apply_district(name: str, keys_touched: set, expected: dict) -> None:
    model, keys, values, _ = DISTRICT_TABLES[name]
    for key in keys_touched:
        lookup = dict(zip(keys, key, strict=True))
        model.objects.filter(**lookup).delete()
        row = expected.get(key)
        if not row or not any(int(row.get(v) or 0) for v in values):
            continue
        org = rollups.resolve_org({"district_id": lookup["district_id"]})
        if org is not None:
            extra = {"supplier_name": row.get("supplier_name") or ""} if name == "district_spend" else {}
            model.objects.create(**lookup, city_id=org.city_id, **extra, **{v: int(row.get(v) or 0) for v in values})
