"""Trace reads: the public trace page, lineage both ways, recall query, EPCIS export.

Staff reads start from `visible_to(actor)`. The public trace page is reached only by its
unguessable code and returns a dict built field by field, so no personal data (driver, checker,
contact person, student) can slip into it by a template change."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Q
from django.utils import timezone

from canteen.core.i18n import tr

from . import epcis, sources
from .coldchain import limits_for
from .keys import KeyBook
from .models import EpcisEvent, TraceCode, TrackPoint, TransportTrack
from .services import batch_class_uri

PUBLIC_LINEAGE_LIMIT = 60


def trace_code_by_code(code: str, *, with_batch: bool = False) -> TraceCode | None:
    code = (code or "").strip().upper()
    if not code or len(code) > 16:
        return None
    if with_batch:
        return sources.trace_code_with_batch(code)
    return TraceCode.objects.filter(code=code).first()


def trace_codes_for_digital_link(*, gtin: str, lot: str) -> list[TraceCode]:
    return list(TraceCode.objects.filter(gtin=gtin, lot=lot).order_by("-created_at")[:20])


# ---------------------------------------------------------------- lineage


def _dish_uri(campus_code: str, day: date, meal_kind: str, dish_id: Any) -> str:
    return f"urn:canteen:dish:{campus_code}:{day.isoformat()}:{meal_kind or 'meal'}:{dish_id or 'meal'}"


QUICK_TEST_NAMES = {
    "pesticide_residue": ("农药残留（酶抑制率）", "Pesticide residue (enzyme inhibition)"),
    "clenbuterol": ("瘦肉精（克伦特罗）", "Clenbuterol"),
    "ractopamine": ("莱克多巴胺", "Ractopamine"),
    "salbutamol": ("沙丁胺醇", "Salbutamol"),
    "formaldehyde": ("甲醛", "Formaldehyde"),
    "sulfur_dioxide": ("二氧化硫", "Sulfur dioxide"),
    "nitrite": ("亚硝酸盐", "Nitrite"),
    "malachite_green": ("孔雀石绿", "Malachite green"),
}


def _choice_label(label: Any) -> str:
    """Our choice labels read "中文 English"; show the half for the current language."""
    zh, _, en = str(label).partition(" ")
    return tr(zh, en or zh)


def _meal_label(kind: str) -> str:
    from canteen.procurement.choices import MealKind

    return _choice_label(dict(MealKind.choices).get(kind, kind or ""))


def _dish_key(dish: dict[str, Any]) -> str | None:
    """A dish's id, or for a dish known only by name a stable ASCII key (URIs must be ASCII)."""
    if dish.get("id"):
        return str(dish["id"])
    if dish.get("name"):
        return "n" + hashlib.sha256(dish["name"].encode()).hexdigest()[:12]
    return None


def batch_lineage(
    *, batch_ids: list[Any], limit: int | None = None, facts: dict[Any, tuple[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Forward lineage: for each (campus, day, meal) a batch went to, the quantity issued and
    the dishes it went into (from the issue itself, else from the menu's recipes)."""
    groups: dict[tuple[Any, date, str], dict[str, Any]] = {}
    issued = sources.issues_of_batches(batch_ids, facts=facts, campus_codes=facts is None)
    rows = sorted(issued, key=lambda r: (r["day"], r["meal_kind"]), reverse=True)
    for m in rows:
        key = (m["campus_id"], m["day"], m["meal_kind"])
        group = groups.get(key)
        if group is None:
            if limit is not None and len(groups) >= limit:
                break
            group = groups[key] = {
                "campus_id": m["campus_id"],
                "campus_code": m["campus_code"],
                "campus": m["campus"],
                "school_id": m["school_id"],
                "day": m["day"],
                "meal_kind": m["meal_kind"],
                "meal_label": _meal_label(m["meal_kind"]),
                "quantity": Decimal("0"),
                "unit": m["unit"],
                "dishes": {},
                "item_ids": set(),
            }
        group["quantity"] += abs(m["quantity"])
        group["item_ids"].add(m["item_id"])
        if m["dish_id"] or m["dish_name"]:
            group["dishes"][m["dish_id"] or m["dish_name"]] = {"id": m["dish_id"], "name": m["dish_name"]}
    result = []
    for group in groups.values():
        item_ids = group.pop("item_ids")
        if not group["dishes"]:
            campus = group["campus_id"]
            for dish in sources.dishes_served(campus=campus, day=group["day"], meal_kind=group["meal_kind"]):
                used = dish["procurement_item_ids"]
                if not used or any(i in item_ids for i in used):
                    group["dishes"][str(dish["id"])] = {"id": str(dish["id"] or ""), "name": dish["name"]}
        group["dishes"] = sorted(group["dishes"].values(), key=lambda d: d["name"])
        result.append(group)
    return result


def recall_query(*, actor: Any, code: TraceCode) -> dict[str, Any]:
    """Everything a recall must reach: every batch of the same lot in the district, the campuses
    that hold or served it, on which days, in which dishes, and how much is still in store."""
    from canteen.procurement.models import Batch

    code = TraceCode.objects.visible_to(actor).get(pk=code.pk)
    same_lot = list(
        TraceCode.objects.filter(district_id=code.district_id, gtin=code.gtin, lot=code.lot).values_list(
            "batch_id", flat=True
        )
    )
    batches = list(
        Batch.objects.filter(pk__in=same_lot)
        .select_related("campus__school", "item")
        .order_by("campus__code", "accepted_at")
    )
    lineage = batch_lineage(batch_ids=same_lot)
    campuses: dict[str, dict[str, Any]] = {}
    for batch in batches:
        entry = campuses.setdefault(
            str(batch.campus_id),
            {
                "campus_id": str(batch.campus_id),
                "campus": str(batch.campus),
                "school_id": str(batch.campus.school_id),
                "on_hand": "0",
                "served": [],
            },
        )
        entry["on_hand"] = str(Decimal(entry["on_hand"]) + batch.on_hand)
    for row in lineage:
        entry = campuses.setdefault(
            row["campus_id"],
            {
                "campus_id": row["campus_id"],
                "campus": row["campus"],
                "school_id": row["school_id"],
                "on_hand": "0",
                "served": [],
            },
        )
        entry["served"].append(
            {
                "day": row["day"].isoformat(),
                "meal_kind": row["meal_kind"],
                "meal_label": row["meal_label"],
                "quantity": str(row["quantity"]),
                "unit": row["unit"],
                "dishes": [d["name"] for d in row["dishes"]],
            }
        )
    return {
        "code": code.code,
        "item": batches[0].item.name if batches else "",
        "gtin": code.gtin,
        "lot": code.lot,
        "batch_ids": [str(b) for b in same_lot],
        "campuses": sorted(campuses.values(), key=lambda c: c["campus"]),
        "days": sorted({s["day"] for c in campuses.values() for s in c["served"]}),
    }


PUPIL_ROLES = frozenset({"district_regulator", "city_regulator", "school_admin", "canteen_manager"})


def recalls_visible(actor: Any) -> Any:
    from .models import Recall

    return Recall.objects.visible_to(actor).distinct()


def recall_pupils(*, actor: Any, recall: Any) -> list[dict[str, Any]]:
    """The pupils who ate a recalled lot, for whoever looks after their health at the school:
    the school's administration (the school nurse's office) and canteen manager for their own
    campuses, the district's regulators for all. Personal data: every read is audited, and
    nothing here leaves the district (the notification event carries ids only)."""
    from canteen.core.audit import audit_record
    from canteen.org.models import Campus, Student

    if not (getattr(actor, "is_superuser", False) or getattr(actor, "role", "") in PUPIL_ROLES):
        return []
    if not recalls_visible(actor).filter(pk=recall.pk).exists():
        return []
    campuses = set(
        Campus.objects.visible_to(actor)
        .filter(pk__in=[c["campus_id"] for c in recall.affected.get("campuses", [])])
        .values_list("pk", flat=True)
    )
    meals = [
        (c["campus_id"], date.fromisoformat(s["day"]), s["meal_kind"])
        for c in recall.affected.get("campuses", [])
        if UUID(c["campus_id"]) in campuses
        for s in c["served"]
    ]
    served = sources.pupils_served(meals)
    ate: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (_campus, day, kind), ids in served.items():
        for student_id in ids:
            ate[student_id].append({"day": day, "meal_kind": kind, "meal_label": _meal_label(kind)})
    students = Student.objects.filter(pk__in=list(ate)).select_related("campus__school", "school_class")
    rows = [
        {
            "student_id": str(s.pk),
            "name": s.name,
            "student_number": s.student_number,
            "class": str(s.school_class),
            "campus": str(s.campus),
            "allergens": list(s.allergens or []),
            "meals": sorted(ate[str(s.pk)], key=lambda m: (m["day"], m["meal_kind"])),
        }
        for s in students
    ]
    audit_record(
        actor=actor,
        action="trace.recall_pupils_viewed",
        target=recall,
        after={"pupils": len(rows), "campuses": [str(c) for c in sorted(campuses, key=str)]},
        district_id=recall.district_id,
    )
    return sorted(rows, key=lambda r: (r["campus"], r["class"], r["student_number"]))


def dish_batches(*, actor: Any, campus: Any, day: date, meal_kind: str, dish_id: Any = None) -> list[dict[str, Any]]:
    """Backward lineage: the batches (with trace codes) that went into a day's meal at a campus,
    narrowed to one dish when the issue or the recipe says which."""
    from canteen.org.models import Campus

    if not Campus.objects.visible_to(actor).filter(pk=getattr(campus, "pk", campus)).exists():
        return []
    grouped = sources.batches_issued_on(campus_id=getattr(campus, "pk", campus), day=day, meal_kind=meal_kind)
    recipe_items: set[Any] | None = None
    if dish_id:
        for dish in sources.dishes_served(campus=campus, day=day, meal_kind=meal_kind):
            if str(dish["id"]) == str(dish_id) and dish["procurement_item_ids"]:
                recipe_items = set(dish["procurement_item_ids"])
    codes = {str(c.batch_id): c for c in TraceCode.objects.filter(batch_id__in=list(grouped))}
    result = []
    for batch_id, rows in grouped.items():
        first = rows[0]
        if dish_id:
            named = {r["dish_id"] for r in rows if r["dish_id"]}
            if named and str(dish_id) not in named:
                continue
            if not named and recipe_items is not None and UUID(first["item_id"]) not in recipe_items:
                continue
        code = codes.get(batch_id)
        result.append(
            {
                "batch_id": batch_id,
                "item": first["item"],
                "batch_number": first["batch_number"],
                "supplier": first["supplier"],
                "producer": first["producer"],
                "quantity": str(sum(abs(r["quantity"]) for r in rows)),
                "unit": first["unit"],
                "trace_code": code.code if code else None,
            }
        )
    return sorted(result, key=lambda r: r["item"])


# ---------------------------------------------------------------- tracks and plots


def tracks_of_delivery(delivery_id: Any) -> list[TransportTrack]:
    return list(
        TransportTrack.objects.filter(delivery_id=delivery_id).select_related("device").prefetch_related("breaks")
    )


def _points(track: TransportTrack) -> list[tuple[Any, float, float, float | None]]:
    return [
        (at, float(lat), float(lon), float(t) if t is not None else None)
        for at, lat, lon, t in TrackPoint.objects.filter(track=track)
        .order_by("at", "seq")
        .values_list("at", "lat", "lon", "temperature_c")
    ]


def _points_of(track_ids: list[Any]) -> dict[Any, list[tuple[Any, float, float, float | None]]]:
    """The points of several tracks in one query."""
    result: dict[Any, list[tuple[Any, float, float, float | None]]] = defaultdict(list)
    if not track_ids:
        return result
    rows = (
        TrackPoint.objects.filter(track_id__in=track_ids)
        .order_by("track_id", "at", "seq")
        .values_list("track_id", "at", "lat", "lon", "temperature_c")
    )
    for track_id, at, lat, lon, t in rows:
        result[track_id].append((at, float(lat), float(lon), float(t) if t is not None else None))
    return result


def route_svg(
    points: list[tuple[Any, float, float, float | None]], breaks: list[Any], *, width: int = 320, height: int = 200
) -> str:
    """The route as an SVG polyline (equirectangular, scaled by cos(latitude)); stretches inside a
    cold-chain break are drawn red. No map tiles: none are reachable from a school network."""
    if len(points) < 2:
        return ""
    import math

    lats = [p[1] for p in points]
    lons = [p[2] for p in points]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    xs = [lon * k for lon in lons]
    span_x = max(max(xs) - min(xs), 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    pad = 14
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    ox = (width - scale * span_x) / 2
    oy = (height - scale * span_y) / 2

    def xy(i: int) -> str:
        return f"{ox + (xs[i] - min(xs)) * scale:.1f},{height - (oy + (lats[i] - min(lats)) * scale):.1f}"

    def inside_break(at: Any) -> bool:
        return any(b.started_at <= at <= b.ended_at for b in breaks)

    segments = []
    for i in range(1, len(points)):
        colour = "#d33" if inside_break(points[i][0]) and inside_break(points[i - 1][0]) else "#1a7f5a"
        segments.append(
            f'<line x1="{xy(i - 1).split(",")[0]}" y1="{xy(i - 1).split(",")[1]}" '
            f'x2="{xy(i).split(",")[0]}" y2="{xy(i).split(",")[1]}" stroke="{colour}" stroke-width="3" stroke-linecap="round"/>'
        )
    sx, sy = xy(0).split(",")
    ex, ey = xy(len(points) - 1).split(",")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="route" data-testid="route-svg" class="trace-route">'
        f'<rect width="{width}" height="{height}" fill="#f4f7f5" rx="8"/>'
        + "".join(segments)
        + f'<circle cx="{sx}" cy="{sy}" r="6" fill="#2563eb"><title>start</title></circle>'
        f'<circle cx="{ex}" cy="{ey}" r="6" fill="#111"><title>end</title></circle>'
        f'<text x="8" y="{height - 6}" font-size="10" fill="#555">N↑ {span_y * 111:.1f} km</text></svg>'
    )


def temperature_svg(
    points: list[tuple[Any, float, float, float | None]], *, min_c: Any, max_c: Any, width: int = 320, height: int = 160
) -> str:
    readings = [(p[0], p[3]) for p in points if p[3] is not None]
    if len(readings) < 2:
        return ""
    t0 = readings[0][0]
    span_t = max((readings[-1][0] - t0).total_seconds(), 1)
    values = [r[1] for r in readings]
    lo = min(values + ([float(min_c)] if min_c is not None else []) + ([float(max_c)] if max_c is not None else [])) - 1
    hi = max(values + ([float(min_c)] if min_c is not None else []) + ([float(max_c)] if max_c is not None else [])) + 1
    pad_l, pad = 30, 10

    def x(at: Any) -> float:
        return pad_l + (at - t0).total_seconds() / span_t * (width - pad_l - pad)

    def y(v: float) -> float:
        return height - pad - (v - lo) / (hi - lo) * (height - 2 * pad)

    line = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in readings)
    limits = ""
    for bound in (min_c, max_c):
        if bound is not None:
            yy = y(float(bound))
            limits += (
                f'<line x1="{pad_l}" y1="{yy:.1f}" x2="{width - pad}" y2="{yy:.1f}" stroke="#d33" stroke-dasharray="4 3"/>'
                f'<text x="2" y="{yy + 3:.1f}" font-size="9" fill="#d33">{float(bound):g}°</text>'
            )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="temperature" data-testid="temperature-svg" class="trace-temp">'
        f'<rect width="{width}" height="{height}" fill="#f7f7fb" rx="8"/>{limits}'
        f'<polyline points="{line}" fill="none" stroke="#2563eb" stroke-width="2"/>'
        f'<text x="2" y="12" font-size="9" fill="#555">{hi - 1:.0f}°</text>'
        f'<text x="2" y="{height - 2}" font-size="9" fill="#555">{lo + 1:.0f}°</text></svg>'
    )


# ---------------------------------------------------------------- the public trace page


def trace_page(*, code: TraceCode) -> dict[str, Any]:
    """Everything the public page shows, field by field, with no personal data."""
    batch = code.batch if TraceCode.batch.is_cached(code) else sources.batch_for_trace(code.batch_id)
    delivery = batch.delivery_line.delivery
    acceptance = getattr(batch, "acceptance", None)
    tracks = []
    delivery_tracks = tracks_of_delivery(delivery.pk)
    points_of = _points_of([t.pk for t in delivery_tracks])
    for track in delivery_tracks:
        points = points_of.get(track.pk, [])
        breaks = list(track.breaks.all())
        tracks.append(
            {
                "profile": _choice_label(track.get_profile_display()),
                "min_c": track.min_c,
                "max_c": track.max_c,
                "started_at": track.started_at,
                "ended_at": track.ended_at,
                "points": len(points),
                "breaks": [
                    {"started_at": b.started_at, "minutes": b.minutes, "worst_c": b.worst_c, "limit_c": b.limit_c}
                    for b in breaks
                ],
                "route_svg": route_svg(points, breaks),
                "temperature_svg": temperature_svg(points, min_c=track.min_c, max_c=track.max_c),
                "series": [[p[0].isoformat(), p[3]] for p in points if p[3] is not None],
            }
        )
    today = timezone.localdate()
    expires = batch.expires_on or (
        batch.production_date + timedelta(days=batch.shelf_life_days) if batch.shelf_life_days else None
    )
    tests = [
        {
            "test": tr(*QUICK_TEST_NAMES[t["test"]]) if t.get("test") in QUICK_TEST_NAMES else str(t.get("test", "")),
            "value": str(t.get("value", "")),
            "unit": str(t.get("unit", "")),
            "passed": bool(t.get("passed", True)),
        }
        for t in (batch.quick_tests or [])
        if isinstance(t, dict)
    ]
    return {
        "code": code.code,
        "gtin": code.gtin,
        "lot": code.lot,
        "item": batch.item.name,
        "item_spec": batch.item.spec,
        "category": _choice_label(batch.item.get_category_display()),
        "storage": _choice_label(batch.item.get_storage_display()),
        "producer": batch.producer,
        "producer_licence": batch.producer_licence,
        "origin": batch.origin,
        "supplier": batch.supplier.name,
        "production_date": batch.production_date,
        "shelf_life_days": batch.shelf_life_days,
        "expires_on": expires,
        "expired": bool(expires and expires < today),
        "batch_number": batch.batch_number,
        "quantity": batch.quantity,
        "accepted_quantity": batch.accepted_quantity,
        "unit": batch.unit,
        "campus": str(batch.campus),
        "delivered_at": delivery.arrived_at,
        "arrival_temperature_c": (
            batch.arrival_temperature_c if batch.arrival_temperature_c is not None else delivery.arrival_temperature_c
        ),
        "has_qc_report": bool(batch.qc_report),
        "qc_is_pdf": (batch.qc_report_content_type or "").endswith("pdf")
        or str(batch.qc_report).lower().endswith(".pdf"),
        "quick_tests": tests,
        "acceptance": {
            "result": _choice_label(acceptance.get_result_display() if acceptance else batch.get_status_display()),
            "result_code": acceptance.result if acceptance else batch.status,
            "reason": acceptance.reason if acceptance else "",
            "checked_at": acceptance.checked_at if acceptance else batch.accepted_at,
        },
        "tracks": tracks,
        "cold_chain_ok": all(not t["breaks"] for t in tracks),
        "lineage": batch_lineage(
            batch_ids=[batch.pk], limit=PUBLIC_LINEAGE_LIMIT, facts={batch.pk: (batch.unit, batch.item_id)}
        ),
        "recall": open_recall_of(code),
        "corrections": corrections_of([code]),
        "digital_link": batch_class_uri(code),
    }


def open_recall_of(code: TraceCode) -> dict[str, Any] | None:
    """The latest recall of this batch's lot, for the public page's banner (reason, date, and
    whether the schools have finished withdrawing it: a closed recall is still a recall)."""
    from .choices import RecallStatus
    from .models import Recall

    recall = (
        Recall.objects.filter(district_id=code.district_id, code__gtin=code.gtin, code__lot=code.lot)
        .order_by("-created_at")
        .first()
    )
    if recall is None:
        return None
    return {"reason": recall.reason, "started_at": recall.created_at, "closed": recall.status == RecallStatus.CLOSED}


# ---------------------------------------------------------------- EPCIS export


def _derived_events(code: TraceCode, batch: Any, book: KeyBook | None = None) -> list[dict[str, Any]]:
    """Events computed from the platform's own records (append-only: delivery times, the
    device's track points, stock issues): shipping and transporting (with the temperature log,
    its limits and breaches) of the delivery, and cooking (TransformationEvent: batches in,
    dishes out) per meal. Their eventIDs are the platform's: no import can take them over."""
    book = book or KeyBook(batch.district_id)
    events: list[dict[str, Any]] = []
    delivery = batch.delivery_line.delivery
    here = book.campus_site(batch.campus_id)
    quantity: dict[str, Any] = {"epcClass": batch_class_uri(code), "quantity": float(batch.quantity)}
    uom = epcis.UOM_BY_UNIT.get(batch.unit)
    if uom:
        quantity["uom"] = uom
    if delivery.dispatched_at is not None:
        events.append(
            epcis.object_event(
                eid=epcis.event_id("shipping", delivery.pk, batch.pk),
                when=delivery.dispatched_at,
                biz_step="shipping",
                disposition="in_transit",
                quantities=[quantity],
                read_point=book.supplier_site(batch.supplier_id),
                sources=[
                    {"type": "owning_party", "source": book.supplier_party(batch.supplier_id)},
                    {"type": "location", "source": book.supplier_site(batch.supplier_id)},
                ],
                destinations=[
                    {"type": "owning_party", "destination": book.district_party()},
                    {"type": "location", "destination": here},
                ],
            )
        )
    for track in tracks_of_delivery(delivery.pk):
        readings = [(p[0], p[3]) for p in _points(track) if p[3] is not None]
        if not readings or track.started_at is None:
            continue
        device = f"urn:uuid:{track.device_id}"
        events.append(
            epcis.object_event(
                eid=epcis.event_id("transporting", track.pk, batch.pk),
                when=track.ended_at,
                biz_step="transporting",
                disposition="in_transit",
                quantities=[quantity],
                sensors=[
                    epcis.temperature_sensor_element(
                        device_uri=device,
                        readings=readings,
                        start=track.started_at,
                        end=track.ended_at,
                        min_c=track.min_c,
                        max_c=track.max_c,
                        breaches=[
                            {
                                "started_at": b.started_at,
                                "ended_at": b.ended_at,
                                "worst_c": b.worst_c,
                                "limit_c": b.limit_c,
                                "minutes": b.minutes,
                            }
                            for b in track.breaks.all()
                        ],
                        rules_uri=f"{epcis.CANTEEN_NS}cold-chain/{track.profile}",
                    )
                ],
            )
        )
    # Cooking: every batch issued to the same campus, day and meal is an input of that meal.
    for row in batch_lineage(batch_ids=[batch.pk]):
        grouped = sources.batches_issued_on(campus_id=row["campus_id"], day=row["day"], meal_kind=row["meal_kind"])
        codes = {str(c.batch_id): c for c in TraceCode.objects.filter(batch_id__in=list(grouped))}
        inputs = []
        for batch_id, issued in sorted(grouped.items()):
            if batch_id not in codes:
                continue
            element = {
                "epcClass": batch_class_uri(codes[batch_id]),
                "quantity": float(sum(abs(r["quantity"]) for r in issued)),
            }
            unit_uom = epcis.UOM_BY_UNIT.get(issued[0]["unit"])
            if unit_uom:
                element["uom"] = unit_uom
            inputs.append(element)
        # The meal's outputs are every dish of it (whichever batch is being exported), so one
        # eventID always carries one body.
        meal_dishes = {
            (r["dish_id"], r["dish_name"]): {"id": r["dish_id"], "name": r["dish_name"]}
            for issued in grouped.values()
            for r in issued
            if r["dish_id"] or r["dish_name"]
        }
        dishes = list(meal_dishes.values()) or row["dishes"] or [{"id": "", "name": ""}]
        outputs = [_dish_uri(row["campus_code"], row["day"], row["meal_kind"], _dish_key(d)) for d in dishes]
        cooked_at = timezone.make_aware(datetime.combine(row["day"], time(10, 0)), epcis.local_zone())
        event = epcis.transformation_event(
            eid=epcis.event_id("cooking", row["campus_id"], row["day"], row["meal_kind"]),
            when=cooked_at,
            inputs=inputs,
            output_epcs=sorted(set(outputs)),
            transformation_id=f"urn:canteen:meal:{row['campus_code']}:{row['day'].isoformat()}:{row['meal_kind'] or 'meal'}",
            biz_location=book.campus_site(row["campus_id"]),
        )
        events.append(event)
    return events


def platform_events(codes: list[TraceCode]) -> dict[str, dict[str, Any]]:
    """The events the platform itself recorded about these batches: captured at acceptance
    (stored) and derived from its own append-only records. eventID → body."""
    by_id: dict[str, dict[str, Any]] = {}
    books: dict[Any, KeyBook] = {}
    for code in codes:
        batch = sources.batch_for_trace(code.batch_id)
        book = books.setdefault(code.district_id, KeyBook(code.district_id))
        for event in _derived_events(code, batch, book):
            by_id.setdefault(event["eventID"], event)
    for row in EpcisEvent.objects.filter(codes__in=codes, imported=False, declares_error=False).distinct():
        by_id[row.event_id] = row.body
    return by_id


def epcis_export(*, actor: Any, codes: list[TraceCode]) -> dict[str, Any]:
    """The trace history of the given batches as one EPCIS 2.0 document: the platform's own
    events (always as recorded: an imported event can never stand in for one), the events
    suppliers imported, and error declarations beside the events they correct."""
    visible = list(TraceCode.objects.visible_to(actor).filter(pk__in=[c.pk for c in codes]))
    by_id = platform_events(visible)
    declarations: list[dict[str, Any]] = []
    for row in EpcisEvent.objects.filter(codes__in=visible).distinct().order_by("event_time", "event_id"):
        if row.declares_error:
            declarations.append(row.body)
        else:
            by_id.setdefault(row.event_id, row.body)
    events = sorted(by_id.values(), key=lambda e: (_sort_time(e), str(e.get("eventID", ""))))
    events += declarations
    return epcis.document(events, created=timezone.now())


def _sort_time(event: dict[str, Any]) -> str:
    parsed = epcis.parse_time(event.get("eventTime"))
    return parsed.astimezone(UTC).isoformat() if parsed else ""


def corrections_of(codes: list[TraceCode]) -> list[dict[str, Any]]:
    """Error declarations about these batches' events, for the public page: which record a
    supplier says is wrong, when, why, and what it sent instead (never personal data)."""
    rows = EpcisEvent.objects.filter(codes__in=codes, declares_error=True).distinct().order_by("event_time")
    result = []
    for row in rows:
        declaration = row.body.get("errorDeclaration") or {}
        corrective = [str(e) for e in declaration.get("correctiveEventIDs") or []][:10]
        result.append(
            {
                "event_id": row.event_id,
                "biz_step": row.biz_step,
                "declared_at": epcis.parse_time(declaration.get("declarationTime")),
                "reason": str(declaration.get("reason", "")),
                "corrective": [
                    {"event_id": c.event_id, "biz_step": c.biz_step, "event_time": c.event_time}
                    for c in EpcisEvent.objects.filter(event_id__in=corrective, declares_error=False)
                ],
            }
        )
    return result


# ---------------------------------------------------------------- EPCIS query interface

QUERY_PARAMS = (
    "eventType",
    "GE_eventTime",
    "LT_eventTime",
    "GE_recordTime",
    "LT_recordTime",
    "EQ_bizStep",
    "EQ_disposition",
    "EQ_readPoint",
    "EQ_bizLocation",
    "MATCH_anyEPC",
    "MATCH_epcClass",
    "EQ_eventID",
    "perPage",
    "nextPageToken",
)
MAX_PER_PAGE = 1000


class QueryParameterError(ValueError):
    """A query parameter the standard does not define or that does not parse (QueryParameterException)."""


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()][:100]


def _bare(value: str) -> str:
    """A CBV word from its bare, web URI (`.../BizStep-shipping`) or URN (`...:bizstep:shipping`) form."""
    last = value.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return last.split("-", 1)[1] if last.startswith(("BizStep-", "Disp-")) else last


def _matches(event: dict[str, Any], params: dict[str, str]) -> bool:
    """The standard's SimpleEventQuery semantics for the parameters we support, on one event."""
    if params.get("eventType") and event.get("type") not in _csv(params["eventType"]):
        return False
    when = epcis.parse_time(event.get("eventTime"))
    for name, keep in (("GE_eventTime", lambda a, b: a >= b), ("LT_eventTime", lambda a, b: a < b)):
        if params.get(name):
            bound = epcis.parse_time(params[name])
            if when is None or not keep(when, bound):
                return False
    for name, field in (("EQ_bizStep", "bizStep"), ("EQ_disposition", "disposition")):
        if params.get(name):
            wanted = {_bare(v) for v in _csv(params[name])}  # bare word or CBV URI
            if _bare(str(event.get(field, ""))) not in wanted:
                return False
    for name, field in (("EQ_readPoint", "readPoint"), ("EQ_bizLocation", "bizLocation")):
        if params.get(name) and (event.get(field) or {}).get("id") not in _csv(params[name]):
            return False
    if params.get("EQ_eventID") and event.get("eventID") not in _csv(params["EQ_eventID"]):
        return False
    for name in ("MATCH_anyEPC", "MATCH_epcClass"):
        if params.get(name):
            wanted_keys = {_epc_key(v) for v in _csv(params[name])}
            if not any(_epc_key(uri) in wanted_keys for uri in epcis.epcs_of(event)):
                return False
    return True


def _epc_key(uri: str) -> Any:
    """Compare identifiers across forms: a lot in URN or Digital Link form (any host) is one key."""
    key = epcis_key(uri)
    return key if key else uri


def epcis_key(uri: str) -> tuple[str, str, str] | None:
    from . import gs1

    parsed = gs1.parse(uri)
    if parsed.kind == "lot":
        return ("lot", parsed.gtin, parsed.lot)
    if parsed.kind == "gtin":
        return ("gtin", parsed.gtin, "")
    return None


def epcis_events_query(*, actor: Any, params: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
    """GET /events of the EPCIS 2.0 REST binding, for the parameters a district needs.

    What an actor sees: regulators their district's (or city's) events; school and campus staff
    the events about their batches; a supplier the events about the batches it supplied and the
    events it sent. The platform's derived events (shipping, transport log, cooking) are
    included for the lots named by MATCH_epcClass / MATCH_anyEPC. Paged by perPage (at most 1000)
    and an opaque nextPageToken."""
    from canteen.core.scoping import scope_of

    unknown = [k for k in params if k not in QUERY_PARAMS]
    if unknown:
        raise QueryParameterError(f"unsupported query parameters: {', '.join(sorted(unknown))[:200]}")
    for name in ("GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime"):
        if params.get(name) and epcis.parse_time(params[name]) is None:
            raise QueryParameterError(f"{name} is not a date and time with an offset")
    try:
        per_page = min(int(params.get("perPage") or 100), MAX_PER_PAGE)
        offset = int(params.get("nextPageToken") or 0)
    except ValueError as exc:
        raise QueryParameterError("perPage and nextPageToken are integers") from exc
    if per_page < 1 or offset < 0:
        raise QueryParameterError("perPage must be positive")
    codes = TraceCode.objects.visible_to(actor)
    scope = scope_of(actor)
    rows = EpcisEvent.objects.all()
    if scope.level in ("city", "district", "all"):
        rows = rows.filter(pk__in=EpcisEvent.objects.visible_to(actor).values("pk"))
    else:
        rows = rows.filter(Q(codes__in=codes) | Q(imported_by=actor)).distinct()
    if params.get("GE_eventTime"):
        rows = rows.filter(event_time__gte=epcis.parse_time(params["GE_eventTime"]))
    if params.get("LT_eventTime"):
        rows = rows.filter(event_time__lt=epcis.parse_time(params["LT_eventTime"]))
    if params.get("GE_recordTime"):
        rows = rows.filter(created_at__gte=epcis.parse_time(params["GE_recordTime"]))
    if params.get("LT_recordTime"):
        rows = rows.filter(created_at__lt=epcis.parse_time(params["LT_recordTime"]))
    if params.get("eventType"):
        rows = rows.filter(event_type__in=_csv(params["eventType"]))
    if params.get("EQ_eventID"):
        rows = rows.filter(event_id__in=_csv(params["EQ_eventID"]))
    if params.get("EQ_bizStep"):
        words = {_bare(v) for v in _csv(params["EQ_bizStep"])}
        rows = rows.filter(
            biz_step__in=words
            | {f"https://ref.gs1.org/cbv/BizStep-{w}" for w in words}
            | {f"urn:epcglobal:cbv:bizstep:{w}" for w in words}
        )
    by_key: dict[tuple[str, bool], dict[str, Any]] = {}
    named = [epcis_key(v) for name in ("MATCH_anyEPC", "MATCH_epcClass") for v in _csv(params.get(name))]
    lots = [k for k in named if k and k[0] == "lot"]
    if lots:
        lot_q = Q()
        for _kind, gtin, lot in lots:
            lot_q |= Q(gtin=gtin, lot=lot)
        for event_id_, body in platform_events(list(codes.filter(lot_q)[:200])).items():
            by_key[(event_id_, False)] = body
    for row in rows.order_by("event_time", "event_id")[: 20 * MAX_PER_PAGE]:
        by_key.setdefault((row.event_id, row.declares_error), row.body)
    events = [e for e in by_key.values() if _matches(e, params)]
    events.sort(key=lambda e: (_sort_time(e), str(e.get("eventID", "")), "errorDeclaration" in e))
    page = events[offset : offset + per_page]
    next_token = str(offset + per_page) if offset + per_page < len(events) else None
    return page, next_token


def query_document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": [epcis.EPCIS_CONTEXT, {"canteen": epcis.CANTEEN_NS}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": epcis.iso(timezone.now()),
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}},
    }


def lineage_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    days: dict[str, int] = defaultdict(int)
    for row in rows:
        days[row["day"].isoformat()] += 1
    return {"days": len(days), "meals": len(rows), "campuses": len({r["campus_id"] for r in rows})}


__all__ = [
    "batch_lineage",
    "dish_batches",
    "epcis_export",
    "limits_for",
    "recall_query",
    "trace_code_by_code",
    "trace_page",
]
