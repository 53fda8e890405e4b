"""Reads of the supervision domain. Every query starts from `visible_to(actor)`: the city sees
all its districts, a district its schools, a school its own rows."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from canteen.core.errors import Forbidden, NotFound, ValidationFailed
from canteen.core.i18n import tr
from canteen.core.localtime import local_iso
from canteen.core.scoping import scope_of

from .choices import OPEN_STATUSES, CaseStatus, FeedbackKind, FeedbackStatus, Flag
from .models import (
    DAILY_COUNTERS,
    DELTA_COUNTERS,
    CampusDim,
    Case,
    DailyCampusStats,
    DailyDistrictStats,
    DailySpend,
    DistrictSpend,
    Feedback,
    HourlyCampusMeals,
    Inspection,
    LicenceWatch,
    LiveItem,
    RollupDelta,
)
from .rollups import DISTRICT_LEVEL

log = logging.getLogger("canteen.supervision")

LEVELS = ("city", "district", "school", "campus")
CHILD = {"city": "district", "district": "school", "school": "campus", "campus": None}
KEY = {"city": "city_id", "district": "district_id", "school": "school_id", "campus": "campus_id"}
MAX_RANGE_DAYS = 400


@dataclass(frozen=True)
class Unit:
    level: str
    id: Any
    name: str


def term_start(day: date) -> date:
    """Autumn term from 1 September, spring term from 1 February."""
    if day.month >= 9:
        return date(day.year, 9, 1)
    if day.month >= 2:
        return date(day.year, 2, 1)
    return date(day.year - 1, 9, 1)


def default_unit(actor: Any) -> Unit:
    """Where a user's dashboard opens: their own city, district, school or campus."""
    scope = scope_of(actor)
    if scope.is_all:
        from canteen.org.models import City

        city = City.objects.order_by("code").first()
        if city is None:
            raise NotFound()
        return Unit("city", city.pk, city.name)
    if scope.level not in LEVELS:
        raise Forbidden()
    return resolve_unit(actor=actor, level=scope.level, unit_id=scope.value)


def resolve_unit(*, actor: Any, level: str, unit_id: Any) -> Unit:
    """The unit, if the actor may see it (else Forbidden: a district cannot open another's)."""
    from canteen.org.models import Campus, City, District, School

    model = {"city": City, "district": District, "school": School, "campus": Campus}.get(level)
    if model is None:
        raise ValidationFailed(details={"level": level})
    try:
        obj = model.objects.visible_to(actor).filter(pk=unit_id).first()
    except (ValueError, TypeError, DjangoValidationError):  # a malformed UUID
        obj = None
    if obj is None:
        raise Forbidden(details={"level": level, "id": str(unit_id)})
    name = str(obj) if level != "campus" else f"{obj.school.name}·{obj.name}"
    return Unit(level, obj.pk, name)


def breadcrumbs(unit: Unit, actor: Any) -> list[Unit]:
    """city → district → school → campus, cut at the actor's own level."""
    from canteen.org.models import Campus, School

    chain: list[Unit] = [unit]
    if unit.level == "campus":
        campus = Campus.objects.select_related("school__district__city").get(pk=unit.id)
        chain = [
            Unit("city", campus.school.district.city_id, campus.school.district.city.name),
            Unit("district", campus.school.district_id, campus.school.district.name),
            Unit("school", campus.school_id, campus.school.name),
            unit,
        ]
    elif unit.level == "school":
        school = School.objects.select_related("district__city").get(pk=unit.id)
        chain = [
            Unit("city", school.district.city_id, school.district.city.name),
            Unit("district", school.district_id, school.district.name),
            unit,
        ]
    elif unit.level == "district":
        from canteen.org.models import District

        district = District.objects.select_related("city").get(pk=unit.id)
        chain = [Unit("city", district.city_id, district.city.name), unit]
    scope = scope_of(actor)
    if scope.is_all or scope.level not in LEVELS:
        return chain
    own = LEVELS.index(scope.level)
    return [u for u in chain if LEVELS.index(u.level) >= own]


def parse_range(start: str | None, end: str | None, *, today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    try:
        end_day = date.fromisoformat(end) if end else today
        start_day = date.fromisoformat(start) if start else term_start(end_day)
    except ValueError as exc:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", "Dates must be YYYY-MM-DD") from exc
    if start_day > end_day or (end_day - start_day).days > MAX_RANGE_DAYS:
        raise ValidationFailed(
            "日期范围无效（最长400天）", "Invalid date range (400 days at most)", details={"start": start, "end": end}
        )
    return start_day, end_day


def _unit_filter(unit: Unit) -> dict[str, Any]:
    return {KEY[unit.level]: unit.id}


def _ratio(numerator: int, denominator: int, digits: int = 4) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def _names(child_level: str, ids: list[Any]) -> dict[str, str]:
    dims = CampusDim.objects.all()
    if child_level == "campus":
        rows = dims.filter(campus_id__in=ids).values_list("campus_id", "campus_name", "school_name")
        return {str(i): f"{s}·{c}" for i, c, s in rows}
    if child_level == "school":
        rows = dims.filter(school_id__in=ids).values_list("school_id", "school_name").distinct()
    else:
        rows = dims.filter(district_id__in=ids).values_list("district_id", "district_name").distinct()
    return {str(i): n for i, n in rows}


def _enrolled_by(unit: Unit, child_level: str | None) -> dict[str, tuple[int, int]]:
    """(enrolled pupils, campuses) per child (or for the unit itself under the key "")."""
    qs = CampusDim.objects.filter(**_unit_filter(unit))
    if child_level is None:
        row = qs.aggregate(n=Sum("enrolled"), c=Count("campus_id"))
        return {"": (row["n"] or 0, row["c"] or 0)}
    key = KEY[child_level]
    return {
        str(r[key]): (r["n"] or 0, r["c"]) for r in qs.values(key).annotate(n=Sum("enrolled"), c=Count("campus_id"))
    }


def _sum_fields() -> dict[str, Sum]:
    # Aliased: an alias equal to a column name would shadow it in the meal-days filter.
    return {f"t_{name}": Sum(name) for name in DAILY_COUNTERS}


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Read the rollups and the pending deltas in one snapshot. A fold moves deltas into the
    rollups in one commit; two READ COMMITTED statements could fall on either side of it and
    count a delta twice or not at all, REPEATABLE READ cannot. Inside a caller's transaction
    the caller's isolation applies."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _pending(actor: Any, unit: Unit) -> QuerySet[RollupDelta]:
    """The checkout path's deltas not yet folded into the rollups (seconds of traffic)."""
    return RollupDelta.objects.visible_to(actor).filter(**_unit_filter(unit))


def _pending_sums() -> dict[str, Sum]:
    return {f"t_{name}": Sum(name) for name in DELTA_COUNTERS}


def _pending_net(qs: QuerySet[RollupDelta]) -> int:
    row = qs.aggregate(s=Sum("meals_served"), v=Sum("meals_voided"))
    return (row["s"] or 0) - (row["v"] or 0)


def _new_meal_days(pending: QuerySet[RollupDelta], key: str | None) -> dict[str, int]:
    """Campus-days whose first meal is still pending (their rollup row shows no meal yet), per
    `key` (or under "" when None): the rest of the participation denominator."""
    extra = [key] if key and key != "campus_id" else []
    served = list(pending.filter(meals_served__gt=0).values_list("day", "campus_id", *extra).distinct())
    if not served:
        return {}
    started = set(
        DailyCampusStats.objects.filter(
            day__in={r[0] for r in served}, campus_id__in={r[1] for r in served}, meals_served__gt=0
        ).values_list("day", "campus_id")
    )
    out: dict[str, int] = {}
    for r in served:
        if (r[0], r[1]) not in started:
            k = "" if key is None else str(r[-1])
            out[k] = out.get(k, 0) + 1
    return out


def _add_pending_sums(row: dict[str, Any], pending: dict[str, Any]) -> dict[str, Any]:
    for name in DELTA_COUNTERS:
        row[f"t_{name}"] = (row.get(f"t_{name}") or 0) + (pending.get(f"t_{name}") or 0)
    return row


def _figures(row: dict[str, Any], enrolled: tuple[int, int]) -> dict[str, Any]:
    pupils, campuses = enrolled
    row = {name: int(row.get(f"t_{name}") or 0) for name in DAILY_COUNTERS} | {
        "campus_meal_days": int(row.get("campus_meal_days") or 0)
    }
    net = row["meals_served"] - row["meals_voided"]
    lunch = row["meals_lunch"] or net
    deliveries = row["deliveries_accepted"] + row["deliveries_rejected"]
    # Lunches over (pupils per campus × campus-days that served): exact for one campus, the
    # enrolment-weighted mean for a school, district or city.
    capacity = pupils * row["campus_meal_days"] / campuses if campuses else 0
    return {
        **row,
        "meals_net": net,
        "enrolled": pupils,
        "campuses": campuses,
        "participation_rate": round(lunch / capacity, 4) if capacity else None,
        "food_cost_per_meal_fen": round(row["delivery_accepted_fen"] / net) if net else None,
        "average_meal_fen": round(row["meal_revenue_fen"] / net) if net else None,
        "trace_complete_share": _ratio(row["deliveries_traced"], row["deliveries_accepted"]),
        "delivery_rejected_share": _ratio(row["deliveries_rejected"], deliveries),
    }


def _sources(actor: Any, unit: Unit) -> tuple[QuerySet, Any, QuerySet]:
    """The rollup table to read and its meal-days aggregate: per district for the city (20 rows
    a day), per campus below."""
    if unit.level == "city":
        return (
            DailyDistrictStats.objects.visible_to(actor).filter(city_id=unit.id),
            Sum("campus_meal_days"),
            DistrictSpend.objects.visible_to(actor).filter(city_id=unit.id),
        )
    return (
        DailyCampusStats.objects.visible_to(actor).filter(**_unit_filter(unit)),
        Count("pk", filter=Q(meals_served__gt=0)),
        DailySpend.objects.visible_to(actor).filter(**_unit_filter(unit)),
    )


def dashboard(*, actor: Any, unit: Unit, start: date, end: date, today: date | None = None) -> dict[str, Any]:
    """Every figure of the district/city dashboard for `unit` over [start, end], its children
    (for drill-down), a daily series, spend by supplier and category, and the case loop.
    Figures are the rollups plus the deltas not yet folded: exact at every moment."""
    with _one_snapshot():
        return _dashboard(actor=actor, unit=unit, start=start, end=end, today=today)


def _dashboard(*, actor: Any, unit: Unit, start: date, end: date, today: date | None) -> dict[str, Any]:
    today = today or timezone.localdate()
    child = CHILD[unit.level]
    base, meal_days, spend = _sources(actor, unit)
    in_range = base.filter(day__gte=start, day__lte=end)
    pending = _pending(actor, unit)
    pending_in_range = pending.filter(day__gte=start, day__lte=end)
    enrolled = _enrolled_by(unit, child)
    total_enrolled = (
        (sum(e[0] for e in enrolled.values()), sum(e[1] for e in enrolled.values())) if child else enrolled[""]
    )

    term_from = term_start(today)
    net = Sum("meals_served") - Sum("meals_voided")
    today_by: dict[str, int] = {}
    children: list[dict[str, Any]] = []
    if child:
        key = KEY[child]
        by_key = {str(r[key]): r for r in in_range.values(key).annotate(**_sum_fields(), campus_meal_days=meal_days)}
        for p in pending_in_range.values(key).annotate(**_pending_sums()):
            _add_pending_sums(by_key.setdefault(str(p[key]), {key: p[key], "campus_meal_days": 0}), p)
        for k, n in _new_meal_days(pending_in_range, key).items():
            by_key[k]["campus_meal_days"] = (by_key[k]["campus_meal_days"] or 0) + n
        rows = [by_key[k] for k in sorted(by_key)]
        today_by = {str(r[key]): r["n"] or 0 for r in base.filter(day=today).values(key).annotate(n=net)}
        for r in pending.filter(day=today).values(key).annotate(n=net):
            today_by[str(r[key])] = today_by.get(str(r[key]), 0) + (r["n"] or 0)
        totals_row: dict[str, Any] = {
            f"t_{name}": sum(r.get(f"t_{name}") or 0 for r in rows) for name in DAILY_COUNTERS
        }
        totals_row["campus_meal_days"] = sum(r["campus_meal_days"] or 0 for r in rows)
        seen = {str(r[key]) for r in rows}
        # Children with enrolment but no activity yet still belong in the table.
        rows += [{key: k} for k in enrolled if k not in seen]
        names = _names(child, [r[key] for r in rows])
        for r in rows:
            k = str(r[key])
            name = names.get(k) or (tr("区级统筹", "District level") if k == str(DISTRICT_LEVEL) else k[:8])
            children.append(
                {
                    "level": child,
                    "id": k,
                    "name": name,
                    "drillable": k != str(DISTRICT_LEVEL),
                    "meals_today": today_by.get(k, 0),
                    **_figures(r, enrolled.get(k, (0, 0))),
                }
            )
        children.sort(key=lambda c: (-c["meals_net"], c["name"]))
        meals_today = sum(today_by.values())
    else:
        totals_row = _add_pending_sums(
            in_range.aggregate(**_sum_fields(), campus_meal_days=meal_days),
            pending_in_range.aggregate(**_pending_sums()),
        )
        totals_row["campus_meal_days"] = (totals_row["campus_meal_days"] or 0) + _new_meal_days(
            pending_in_range, None
        ).get("", 0)
        meals_today = (base.filter(day=today).aggregate(n=net)["n"] or 0) + _pending_net(pending.filter(day=today))
    totals = _figures(totals_row, total_enrolled)
    if start == term_from and end == today:
        meals_term = totals["meals_net"]
    else:
        meals_term = (base.filter(day__gte=term_from, day__lte=today).aggregate(n=net)["n"] or 0) + _pending_net(
            pending.filter(day__gte=term_from, day__lte=today)
        )

    by_day: dict[date, dict[str, int]] = {}
    for qs, extra in ((in_range, {"sub": Sum("subsidy_fen"), "al": Sum("alarms")}), (pending_in_range, {})):
        for r in qs.values("day").annotate(
            s=Sum("meals_served"), v=Sum("meals_voided"), rev=Sum("meal_revenue_fen"), top=Sum("topups_fen"), **extra
        ):
            d = by_day.setdefault(r["day"], {"s": 0, "v": 0, "rev": 0, "top": 0, "sub": 0, "al": 0})
            for name in d:
                d[name] += r.get(name) or 0
    series = [
        {
            "day": day.isoformat(),
            "meals_net": r["s"] - r["v"],
            "revenue_fen": r["rev"],
            "topups_fen": r["top"],
            "subsidy_fen": r["sub"],
            "alarms": r["al"],
        }
        for day, r in sorted(by_day.items())
    ]
    return {
        "unit": {"level": unit.level, "id": str(unit.id), "name": unit.name},
        "breadcrumbs": [{"level": u.level, "id": str(u.id), "name": u.name} for u in breadcrumbs(unit, actor)],
        "child_level": child,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "today": today.isoformat(),
        "meals_today": meals_today,
        "term_start": term_from.isoformat(),
        "meals_term": meals_term,
        "totals": totals,
        "children": children,
        "series": series,
        "spend": spend_breakdown(spend.filter(day__gte=start, day__lte=end)),
        "cases": case_summary(actor=actor, unit=unit),
        "licences": licence_summary(actor=actor, unit=unit, today=today),
        "feedback": feedback_summary(actor=actor, unit=unit, start=start, end=end),
        "cameras": camera_summary(actor=actor, unit=unit),
    }


def _category_label(code: str) -> str:
    if not code:
        return tr("未分类", "Uncategorised")
    try:
        from canteen.procurement.choices import ItemCategory

        zh, _, en = ItemCategory(code).label.partition(" ")
        return tr(zh, en)
    except (ImportError, ValueError):
        return code


def spend_breakdown(qs: QuerySet, top: int = 10) -> dict[str, Any]:
    """Spend by supplier and by category from one grouped scan of a spend rollup."""
    by_supplier: dict[str, dict[str, Any]] = {}
    by_category: dict[str, int] = {}
    for r in qs.values("supplier_id", "category").annotate(amount=Sum("amount_fen"), name=Max("supplier_name")):
        amount = r["amount"] or 0
        entry = by_supplier.setdefault(
            r["supplier_id"],
            {"supplier_id": r["supplier_id"], "name": r["name"] or r["supplier_id"][:8], "amount_fen": 0},
        )
        entry["amount_fen"] += amount
        category = _category_label(r["category"])
        by_category[category] = by_category.get(category, 0) + amount
    return {
        "by_supplier": sorted(by_supplier.values(), key=lambda e: -e["amount_fen"])[:top],
        "by_category": [
            {"category": c, "amount_fen": a} for c, a in sorted(by_category.items(), key=lambda item: -item[1])
        ],
    }


def _case_filter(unit: Unit) -> dict[str, Any]:
    return {
        "city": {"district__city_id": unit.id},
        "district": {"district_id": unit.id},
        "school": {"school_id": unit.id},
        "campus": {"campus_id": unit.id},
    }[unit.level]


def case_summary(*, actor: Any, unit: Unit) -> dict[str, Any]:
    qs = Case.objects.visible_to(actor).filter(**_case_filter(unit))
    open_qs = qs.filter(status__in=OPEN_STATUSES)
    by_status = {r["status"]: r["n"] for r in qs.values("status").annotate(n=Count("pk"))}
    by_source = {r["source"]: r["n"] for r in open_qs.values("source").annotate(n=Count("pk"))}
    flags = {r["flag"]: r["n"] for r in open_qs.values("flag").annotate(n=Count("pk"))}
    return {
        "open": sum(v for k, v in by_status.items() if k != CaseStatus.CLOSED),
        "closed": by_status.get(CaseStatus.CLOSED, 0),
        "by_status": by_status,
        "open_by_source": by_source,
        "alarms_open": by_source.get("alarm", 0),
        "records_missing_open": by_source.get("record_missing", 0),
        "nutrition_open": by_source.get("nutrition_failed", 0),
        "yellow": flags.get(Flag.YELLOW, 0),
        "red": flags.get(Flag.RED, 0),
    }


def licence_summary(*, actor: Any, unit: Unit, today: date) -> dict[str, Any]:
    qs = LicenceWatch.objects.visible_to(actor)
    if unit.level == "city":
        qs = qs.filter(city_id=unit.id)
    elif unit.level == "district":
        qs = qs.filter(district_id=unit.id)
    else:
        return {"expiring": None, "expired": None}
    return {
        "expiring": qs.filter(expired=False, expires_on__gte=today).count(),
        "expired": qs.filter(Q(expired=True) | Q(expires_on__lt=today)).count(),
    }


def feedback_summary(*, actor: Any, unit: Unit, start: date, end: date) -> dict[str, Any]:
    qs = Feedback.objects.visible_to(actor).filter(
        **_case_filter(unit), created_at__date__gte=start, created_at__date__lte=end
    )
    row = qs.aggregate(
        total=Count("pk"),
        complaints=Count("pk", filter=Q(kind=FeedbackKind.COMPLAINT)),
        unanswered=Count("pk", filter=Q(status=FeedbackStatus.RECEIVED)),
    )
    return row


def _kitchen() -> Any | None:
    try:
        return importlib.import_module("canteen.kitchen.selectors")
    except ImportError:
        return None


def _camera_views(actor: Any, unit: Unit) -> list[Any] | None:
    """The kitchen domain's camera views inside `unit` (None when kitchen is not installed)."""
    kitchen = _kitchen()
    fn = getattr(kitchen, "cameras_visible", None) if kitchen else None
    if fn is None:
        return None
    kwargs = (
        {"school_id": unit.id} if unit.level == "school" else {"campus_id": unit.id} if unit.level == "campus" else {}
    )
    try:
        views = fn(actor=actor, **kwargs)
    except Exception:  # a neighbour's bug must not take the dashboard down
        log.exception("kitchen.cameras_visible failed")
        return None
    if unit.level == "district":
        views = [v for v in views if str(v.camera.canteen.campus.school.district_id) == str(unit.id)]
    elif unit.level == "city":
        district_ids = {
            str(d) for d in CampusDim.objects.filter(city_id=unit.id).values_list("district_id", flat=True).distinct()
        }
        views = [v for v in views if str(v.camera.canteen.campus.school.district_id) in district_ids]
    return views


def camera_summary(*, actor: Any, unit: Unit) -> dict[str, Any]:
    """Cameras online, read from the kitchen domain's selectors."""
    views = _camera_views(actor, unit)
    if views is None:
        return {"online": None, "total": None}
    return {"online": sum(1 for v in views if v.status == "online"), "total": len(views)}


def camera_tiles(*, actor: Any, unit: Unit, limit: int = 6) -> list[dict[str, Any]]:
    """Online kitchen cameras for the big screen, with their live HLS playlist."""
    from django.urls import NoReverseMatch, reverse

    views = _camera_views(actor, unit) or []
    tiles = []
    for v in views:
        if v.status != "online":
            continue
        try:
            hls = reverse("kitchen:live-file", args=[v.camera.id, "index.m3u8"])
        except NoReverseMatch:
            hls = ""
        tiles.append(
            {"id": str(v.camera.id), "name": f"{v.camera.canteen.name} {v.camera.name}", "online": True, "hls": hls}
        )
        if len(tiles) >= limit:
            break
    return tiles


# ---------------------------------------------------------------- big screen


def bigscreen(*, actor: Any, unit: Unit, now: datetime | None = None) -> dict[str, Any]:
    """The live district (or city) today: meals as served, hourly curve, campus ranking,
    the ticker of alarms and cases, camera tiles. Meals are the rollups plus the deltas not yet
    folded, so the screen moves with every checkout."""
    with _one_snapshot():
        return _bigscreen(actor=actor, unit=unit, now=now)


def _bigscreen(*, actor: Any, unit: Unit, now: datetime | None, day: date | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    today = day or timezone.localdate(now)
    flt = _unit_filter(unit)
    stats = DailyCampusStats.objects.visible_to(actor).filter(**flt, day=today)
    tot = stats.aggregate(
        served=Sum("meals_served"),
        voided=Sum("meals_voided"),
        lunch=Sum("meals_lunch"),
        revenue=Sum("meal_revenue_fen"),
        alarms=Sum("alarms"),
        last=Max("last_served_at"),
        serving=Count("campus_id", filter=Q(meals_served__gt=0)),
    )
    pending = _pending(actor, unit).filter(day=today)
    ptot = pending.aggregate(
        served=Sum("meals_served"),
        voided=Sum("meals_voided"),
        lunch=Sum("meals_lunch"),
        revenue=Sum("meal_revenue_fen"),
        last=Max("served_at"),
    )
    for name in ("served", "voided", "lunch", "revenue"):
        tot[name] = (tot[name] or 0) + (ptot[name] or 0)
    tot["last"] = max((t for t in (tot["last"], ptot["last"]) if t is not None), default=None)
    tot["serving"] = (tot["serving"] or 0) + _new_meal_days(pending, None).get("", 0)
    hourly = {
        r["hour"]: r["n"]
        for r in HourlyCampusMeals.objects.visible_to(actor)
        .filter(**flt, day=today)
        .values("hour")
        .annotate(n=Sum("meals"))
    }
    for r in pending.filter(hour__isnull=False).values("hour").annotate(n=Sum("meals_served")):
        hourly[r["hour"]] = hourly.get(r["hour"], 0) + (r["n"] or 0)
    by_campus = {
        str(r["campus_id"]): r
        for r in stats.filter(meals_served__gt=0).values(
            "campus_id", "meals_served", "meals_voided", "meals_lunch", "last_served_at"
        )
    }
    for p in pending.values("campus_id").annotate(
        s=Sum("meals_served"), v=Sum("meals_voided"), lunch=Sum("meals_lunch"), last=Max("served_at")
    ):
        r = by_campus.setdefault(
            str(p["campus_id"]),
            {
                "campus_id": p["campus_id"],
                "meals_served": 0,
                "meals_voided": 0,
                "meals_lunch": 0,
                "last_served_at": None,
            },
        )
        r["meals_served"] += p["s"] or 0
        r["meals_voided"] += p["v"] or 0
        r["meals_lunch"] += p["lunch"] or 0
        if p["last"] is not None and (r["last_served_at"] is None or p["last"] > r["last_served_at"]):
            r["last_served_at"] = p["last"]
    rows = sorted((r for r in by_campus.values() if r["meals_served"] > 0), key=lambda r: -r["meals_served"])[:200]
    dims = {str(d.campus_id): d for d in CampusDim.objects.filter(campus_id__in=[r["campus_id"] for r in rows])}
    ranking = []
    for r in rows:
        d = dims.get(str(r["campus_id"]))
        net = r["meals_served"] - r["meals_voided"]
        ranking.append(
            {
                "campus_id": str(r["campus_id"]),
                "name": f"{d.school_name}·{d.campus_name}" if d else str(r["campus_id"])[:8],
                "meals": net,
                # Participation is lunch takers over pupils: breakfast and dinner (boarders) would
                # push meals per pupil over 100 %.
                "participation_rate": _ratio(r["meals_lunch"], d.enrolled) if d and d.enrolled else None,
                "last_served_at": local_iso(r["last_served_at"]),
            }
        )
    ranking.sort(key=lambda x: (-(x["participation_rate"] or 0), -x["meals"]))
    live = [
        {"id": i.id, "at": local_iso(i.at), "kind": i.kind, "text": tr(i.text_zh, i.text_en)}
        for i in LiveItem.objects.visible_to(actor).filter(**flt, at__date=today)[:15]
    ]
    enrolled = CampusDim.objects.filter(**flt).aggregate(n=Sum("enrolled"), campuses=Count("campus_id"))
    served = (tot["served"] or 0) - (tot["voided"] or 0)
    last_day = None
    if served == 0 and day is None:
        # Before the first meal of the day "today" is all zeros: the curve and the ranking show
        # the last day meals were served, labelled with its date, until today's first checkout.
        previous = (
            DailyCampusStats.objects.visible_to(actor)
            .filter(**flt, day__lt=today, meals_served__gt=0)
            .aggregate(day=Max("day"))["day"]
        )
        if previous is not None:
            before = _bigscreen(actor=actor, unit=unit, now=now, day=previous)
            last_day = {k: before[k] for k in ("today", "meals_today", "participation_rate", "hourly", "ranking")}
    return {
        "last_day": last_day,
        "unit": {"level": unit.level, "id": str(unit.id), "name": unit.name},
        "now": local_iso(now),
        "today": today.isoformat(),
        "meals_today": served,
        "revenue_today_fen": tot["revenue"] or 0,
        "alarms_today": tot["alarms"] or 0,
        "campuses_serving": tot["serving"] or 0,
        "campuses_total": enrolled["campuses"] or 0,
        "enrolled": enrolled["n"] or 0,
        "participation_rate": _ratio(tot["lunch"] or 0, enrolled["n"] or 0),
        "last_served_at": local_iso(tot["last"]),
        "hourly": [{"hour": h, "meals": hourly.get(h, 0)} for h in range(6, 21)],
        "ranking": ranking[:12],
        "live": live,
        "cases": case_summary(actor=actor, unit=unit),
        "cameras": camera_tiles(actor=actor, unit=unit),
        "cameras_status": camera_summary(actor=actor, unit=unit),
    }


# ---------------------------------------------------------------- cases, ranking, inspections, feedback


def cases_visible(
    *,
    actor: Any,
    status: str | None = None,
    source: str | None = None,
    flag: str | None = None,
    open_only: bool = False,
) -> QuerySet[Case]:
    qs = Case.objects.visible_to(actor).select_related("district", "school", "campus")
    if status:
        qs = qs.filter(status=status)
    if source:
        qs = qs.filter(source=source)
    if flag:
        qs = qs.filter(flag=flag)
    if open_only:
        qs = qs.filter(status__in=OPEN_STATUSES)
    return qs


def case_get(*, actor: Any, case_id: Any) -> Case:
    try:
        case = cases_visible(actor=actor).filter(pk=case_id).first()
    except (ValueError, TypeError, DjangoValidationError):
        case = None
    if case is None:
        raise NotFound()
    return case


RANKING_WEIGHTS = {"recurrence": 5, "return": 3, "open": 4, "red_open": 10, "yellow_open": 5}


def ranking_method() -> str:
    """The scoring rule in words, shown above the ranking (the page states how it ranks)."""
    w = RANKING_WEIGHTS
    return tr(
        f"得分 = 100 × 按期整改率（已销号问题中按期整改的比例；无已销号问题时按 100%）"
        f" − {w['open']} × 未销号问题 − {w['red_open']} × 红牌未销号 − {w['yellow_open']} × 黄牌未销号"
        f" − {w['recurrence']} × 复发 − {w['return']} × 退回，最低 0 分。同分时未销号问题少者在前，再按问题数、校名。",
        f"Score = 100 × on-time share (of the closed cases, those answered in time; 100% when none is closed)"
        f" − {w['open']} × open cases − {w['red_open']} × open red flags − {w['yellow_open']} × open yellow flags"
        f" − {w['recurrence']} × recurrences − {w['return']} × returns, at least 0. Ties: fewer open cases first,"
        f" then fewer cases, then the school's name.",
    )


def school_ranking(*, actor: Any, start: date, end: date, district_id: Any = None) -> list[dict[str, Any]]:
    """比晾晒: schools by how they close their cases; the rule is `ranking_method()`. Every open
    case costs points, so a school with open cases never ties with a school without any."""
    from canteen.org.models import School

    w = RANKING_WEIGHTS
    schools = School.objects.visible_to(actor).select_related("district")
    if district_id:
        schools = schools.filter(district_id=district_id)
    cases = Case.objects.visible_to(actor).filter(
        school__in=schools, created_at__date__gte=start, created_at__date__lte=end
    )
    empty = {"cases": 0, "closed": 0, "open": 0, "on_time": 0, "returns": 0, "red_open": 0, "yellow_open": 0}
    stats: dict[Any, dict[str, Any]] = {}
    pairs: dict[Any, set] = {}
    for c in cases.values("school_id", "status", "responded_late", "return_count", "flag", "source", "campus_id"):
        s = stats.setdefault(c["school_id"], dict(empty))
        s["cases"] += 1
        s["returns"] += c["return_count"]
        if c["status"] == CaseStatus.CLOSED:
            s["closed"] += 1
            s["on_time"] += 0 if c["responded_late"] else 1
        else:
            s["open"] += 1
            if c["flag"] == Flag.RED:
                s["red_open"] += 1
            elif c["flag"] == Flag.YELLOW:
                s["yellow_open"] += 1
        pairs.setdefault(c["school_id"], set()).add((c["source"], c["campus_id"]))
    result = []
    for school in schools:
        s = stats.get(school.pk, dict(empty))
        recurrences = s["cases"] - len(pairs.get(school.pk, ()))
        on_time_share = s["on_time"] / s["closed"] if s["closed"] else 1.0
        score = (
            100 * on_time_share
            - w["open"] * s["open"]
            - w["red_open"] * s["red_open"]
            - w["yellow_open"] * s["yellow_open"]
            - w["recurrence"] * recurrences
            - w["return"] * s["returns"]
        )
        result.append(
            {
                "school_id": str(school.pk),
                "school": school.name,
                "district": school.district.name,
                **s,
                "recurrences": recurrences,
                "on_time_rate": round(on_time_share, 4),
                "score": round(max(0.0, min(100.0, score)), 1),
            }
        )
    result.sort(key=lambda r: (-r["score"], r["open"], r["red_open"], r["cases"], r["school"]))
    for rank, row in enumerate(result, start=1):
        row["rank"] = rank
    return result


def inspections_visible(*, actor: Any) -> QuerySet[Inspection]:
    return (
        Inspection.objects.visible_to(actor).select_related("campus__school", "district").prefetch_related("inspectors")
    )


def inspection_get(*, actor: Any, inspection_id: Any) -> Inspection:
    try:
        inspection = inspections_visible(actor=actor).filter(pk=inspection_id).first()
    except (ValueError, TypeError, DjangoValidationError):
        inspection = None
    if inspection is None:
        raise NotFound()
    return inspection


def feedback_visible(*, actor: Any) -> QuerySet[Feedback]:
    return Feedback.objects.visible_to(actor).select_related("canteen", "campus", "school", "case")


def feedback_follow(*, code: str) -> Feedback | None:
    """The parent's view by follow code (no login): status, answer, case status only."""
    code = (code or "").strip().upper()[:12]
    if not code:
        return None
    return Feedback.objects.select_related("canteen", "case").filter(follow_code=code).first()
