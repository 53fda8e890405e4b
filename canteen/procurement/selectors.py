"""Procurement reads. Actor-facing selectors start from `visible_to(actor)`; the lineage
interface (`batch_detail`, `batches_issued`, `issues_of_batch`) is called by trace, whose public
page has no actor, and returns plain dicts that hold no personal data."""

from __future__ import annotations

import importlib
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from canteen.org.models import Campus, District

from .choices import BatchStatus, MovementKind, OrderStatus
from .models import (
    AcceptanceCheck,
    Batch,
    Delivery,
    FrameworkPrice,
    Item,
    Licence,
    PurchaseOrder,
    PurchaseOrderLine,
    StockMovement,
    Supplier,
    SupplierMember,
)
from .services import EXPIRING_WITHIN_DAYS, supplier_standing

# Orders that count as demand: from submission until delivered; drafts and cancellations do not.
DEMAND_STATUSES = (
    OrderStatus.SUBMITTED,
    OrderStatus.APPROVED,
    OrderStatus.SENT,
    OrderStatus.CONFIRMED,
    OrderStatus.PARTIALLY_DELIVERED,
    OrderStatus.DELIVERED,
    OrderStatus.CLOSED,
)


# ---------------------------------------------------------------- suppliers


def supplier_list(*, actor: Any, district: District | None = None) -> QuerySet[Supplier]:
    qs = Supplier.objects.visible_to(actor).select_related("district").prefetch_related("licences")
    return qs.filter(district=district) if district is not None else qs


def supplier_of_user(*, user: Any) -> Supplier | None:
    member = SupplierMember.objects.filter(user_id=getattr(user, "pk", None)).select_related("supplier").first()
    return member.supplier if member else None


def licence_alerts(*, actor: Any, on: date | None = None) -> dict[str, list[Licence]]:
    """Expired and soon-expiring licences the actor may see (the district's alert list)."""
    on = on or timezone.localdate()
    qs = (
        Licence.objects.visible_to(actor)
        .select_related("supplier")
        .filter(expires_on__isnull=False, expires_on__lte=on + timedelta(days=EXPIRING_WITHIN_DAYS))
        .order_by("expires_on")
    )
    # A licence superseded by a later one of the same kind is no longer an alert.
    latest: dict[tuple[Any, str], date] = {}
    for lic in Licence.objects.filter(supplier__in={lic.supplier_id for lic in qs}).only(
        "supplier_id", "kind", "expires_on"
    ):
        key = (lic.supplier_id, lic.kind)
        latest[key] = max(latest.get(key, date.min), lic.expires_on or date.max)
    alerts: dict[str, list[Licence]] = {"expired": [], "expiring": []}
    for lic in qs:
        if latest.get((lic.supplier_id, lic.kind), date.min) > lic.expires_on:
            continue
        alerts["expired" if lic.expires_on < on else "expiring"].append(lic)
    return alerts


def supplier_standings(*, actor: Any, on: date | None = None) -> list[tuple[Supplier, Any]]:
    return [(s, supplier_standing(supplier=s, on=on)) for s in supplier_list(actor=actor)]


# ---------------------------------------------------------------- catalogue


def catalogue(
    *, actor: Any, on: date | None = None, category: str = "", supplier: Supplier | None = None, q: str = ""
) -> list[dict[str, Any]]:
    """Items with their framework prices valid on `on`, one row per item, offers by supplier."""
    on = on or timezone.localdate()
    items = Item.objects.visible_to(actor).filter(is_active=True).distinct()
    if category:
        items = items.filter(category=category)
    if q:
        items = items.filter(Q(name__icontains=q) | Q(code__icontains=q))
    prices = (
        FrameworkPrice.objects.filter(item__in=items, valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .select_related("supplier")
        .order_by("price_fen")
    )
    if supplier is not None:
        prices = prices.filter(supplier=supplier)
    offers: dict[Any, list[FrameworkPrice]] = defaultdict(list)
    for p in prices:
        offers[p.item_id].append(p)
    rows = [{"item": item, "offers": offers.get(item.pk, [])} for item in items.order_by("category", "code")]
    return [r for r in rows if r["offers"]] if supplier is not None else rows


def price_history(*, actor: Any, item: Item) -> QuerySet[FrameworkPrice]:
    return (
        FrameworkPrice.objects.visible_to(actor)
        .filter(item=item)
        .select_related("supplier")
        .order_by("supplier__name", "-version")
    )


def order_suggestions(*, campus: Campus, day: date) -> dict[str, dict[str, Any]]:
    """What the menu needs, from meals' `ingredient_demand` ([(item_id, quantity, unit)] in kg):
    {item_id: {"item", "kg", "quantity"}} with `quantity` in the item's own unit (bags of 25 kg,
    5 L drums) or None where the unit is not by weight. Empty when meals offers nothing yet."""
    try:
        meals = importlib.import_module("canteen.meals.selectors")
    except ModuleNotFoundError:
        return {}
    demand_fn = getattr(meals, "ingredient_demand", None)
    if demand_fn is None:
        return {}
    needs: dict[str, Decimal] = defaultdict(Decimal)
    for row in demand_fn(campus=campus, day=day) or []:
        item_id, quantity, unit = (
            (row["item_id"], row["quantity"], row.get("unit", "kg")) if isinstance(row, dict) else row
        )
        if item_id is not None and unit == "kg":
            needs[str(item_id)] += Decimal(str(quantity))
    items = Item.objects.filter(pk__in=list(needs), district_id=campus.school.district_id)
    per_unit = {"kg": Decimal(1), "袋": Decimal(25), "桶": Decimal(5)}
    result = {}
    for item in items:
        kg = needs[str(item.pk)]
        size = per_unit.get(item.unit)
        qty = None
        if size is not None:
            step = Decimal("1") if size > 1 else Decimal("0.5")
            qty = max(step, (kg / size / step).to_integral_value(rounding="ROUND_CEILING") * step)
        result[str(item.pk)] = {"item": item, "kg": kg.quantize(Decimal("0.001")), "quantity": qty}
    return result


# ---------------------------------------------------------------- orders and deliveries


def order_list(
    *, actor: Any, status: str = "", day_from: date | None = None, day_to: date | None = None
) -> QuerySet[PurchaseOrder]:
    qs = PurchaseOrder.objects.visible_to(actor).select_related("campus", "campus__school", "supplier")
    if status:
        qs = qs.filter(status=status)
    if day_from:
        qs = qs.filter(delivery_day__gte=day_from)
    if day_to:
        qs = qs.filter(delivery_day__lte=day_to)
    return qs.order_by("-delivery_day", "-created_at")


def order_get(*, actor: Any, order_id: UUID | str) -> PurchaseOrder | None:
    return (
        PurchaseOrder.objects.visible_to(actor)
        .select_related("campus", "campus__school", "supplier", "canteen")
        .filter(pk=order_id)
        .first()
    )


def delivery_list(*, actor: Any, status: str = "") -> QuerySet[Delivery]:
    qs = Delivery.objects.visible_to(actor).select_related("campus", "campus__school", "supplier", "order")
    return qs.filter(status=status) if status else qs


def delivery_get(*, actor: Any, delivery_id: UUID | str) -> Delivery | None:
    return (
        Delivery.objects.visible_to(actor)
        .select_related("campus", "campus__school", "supplier", "order")
        .filter(pk=delivery_id)
        .first()
    )


def combined_demand(*, actor: Any, day: date, district: District | None = None) -> list[dict[str, Any]]:
    """集配: per supplier, per item, the quantity all campuses ordered for `day`, with the
    number of campuses and orders, and the value. One aggregate query."""
    lines = PurchaseOrderLine.objects.visible_to(actor).filter(
        order__delivery_day=day, order__status__in=DEMAND_STATUSES
    )
    if district is not None:
        lines = lines.filter(order__district=district)
    rows = (
        lines.values(
            "order__supplier_id",
            "order__supplier__name",
            "item_id",
            "item__name",
            "item__code",
            "unit",
        )
        .annotate(
            quantity=Sum("quantity"),
            amount_fen=Sum("amount_fen"),
            campuses=Count("order__campus", distinct=True),
            orders=Count("order", distinct=True),
        )
        .order_by("order__supplier__name", "item__code")
    )
    suppliers: dict[Any, dict[str, Any]] = {}
    for r in rows:
        s = suppliers.setdefault(
            r["order__supplier_id"],
            {
                "supplier_id": r["order__supplier_id"],
                "supplier": r["order__supplier__name"],
                "items": [],
                "amount_fen": 0,
                "campus_ids": set(),
            },
        )
        s["items"].append(
            {
                "item_id": r["item_id"],
                "item": r["item__name"],
                "code": r["item__code"],
                "unit": r["unit"],
                "quantity": r["quantity"],
                "amount_fen": r["amount_fen"],
                "campuses": r["campuses"],
                "orders": r["orders"],
            }
        )
        s["amount_fen"] += r["amount_fen"]
    campus_counts = dict(
        lines.values_list("order__supplier_id").annotate(n=Count("order__campus", distinct=True)).order_by()
    )
    result = []
    for sid, s in suppliers.items():
        s.pop("campus_ids")
        s["campuses"] = campus_counts.get(sid, 0)
        result.append(s)
    return result


def combined_demand_by_campus(*, actor: Any, day: date, supplier: Supplier) -> list[dict[str, Any]]:
    """The supplier's pick list for a day: per campus, per item."""
    return list(
        PurchaseOrderLine.objects.visible_to(actor)
        .filter(order__delivery_day=day, order__status__in=DEMAND_STATUSES, order__supplier=supplier)
        .values(
            "order__campus__code",
            "order__campus__name",
            "order__campus__school__name",
            "item__name",
            "unit",
            "order__meal_kind",
        )
        .annotate(quantity=Sum("quantity"))
        .order_by("order__campus__code", "item__name")
    )


# ---------------------------------------------------------------- stock


def stock_on_hand(*, actor: Any, campus: Campus | None = None, on: date | None = None) -> list[dict[str, Any]]:
    """Per item: quantity on hand, the batches (first-expiring first) and how many have expired."""
    on = on or timezone.localdate()
    qs = Batch.objects.visible_to(actor).filter(on_hand__gt=0).select_related("item", "supplier", "campus")
    if campus is not None:
        qs = qs.filter(campus=campus)
    by_item: dict[Any, dict[str, Any]] = {}
    for b in qs.order_by(F("expires_on").asc(nulls_last=True), "production_date"):
        row = by_item.setdefault(
            (b.campus_id, b.item_id),
            {
                "item": b.item,
                "campus": b.campus,
                "on_hand": Decimal("0"),
                "batches": [],
                "expired": Decimal("0"),
                "expiring_soon": False,
            },
        )
        row["on_hand"] += b.on_hand
        row["batches"].append(b)
        if b.expires_on is not None and b.expires_on < on:
            row["expired"] += b.on_hand
        elif b.expires_on is not None and b.expires_on <= on + timedelta(days=2):
            row["expiring_soon"] = True
    return sorted(by_item.values(), key=lambda r: (r["campus"].code, r["item"].category, r["item"].code))


def movements(*, actor: Any, campus: Campus | None = None, day: date | None = None) -> QuerySet[StockMovement]:
    qs = StockMovement.objects.visible_to(actor).select_related("batch", "item")
    if campus is not None:
        qs = qs.filter(campus=campus)
    if day is not None:
        qs = qs.filter(day=day)
    return qs.order_by("-at", "-id")


def acceptance_records(*, actor: Any, campus: Campus | None = None) -> QuerySet[AcceptanceCheck]:
    qs = AcceptanceCheck.objects.visible_to(actor).select_related("batch", "batch__item", "supplier", "campus")
    return qs.filter(campus=campus) if campus is not None else qs


# ---------------------------------------------------------------- lineage interface for trace


def _batch_dict(b: Batch) -> dict[str, Any]:
    check = getattr(b, "acceptance", None) if b.status != BatchStatus.PENDING else None
    return {
        "batch_id": str(b.pk),
        "batch_number": b.batch_number,
        "item_id": str(b.item_id),
        "item": b.item.name,
        "item_code": b.item.code,
        "category": b.item.category,
        "spec": b.item.spec,
        "food_code": b.item.food_code,
        "storage": b.item.storage,
        "quantity": b.quantity,
        "accepted_quantity": b.accepted_quantity,
        "on_hand": b.on_hand,
        "unit": b.unit,
        "producer": b.producer,
        "producer_licence": b.producer_licence,
        "origin": b.origin,
        "production_date": b.production_date,
        "shelf_life_days": b.shelf_life_days,
        "expires_on": b.expires_on,
        "qc_report_url": b.qc_report.url if b.qc_report else "",
        "qc_report_name": b.qc_report.name if b.qc_report else "",
        "qc_report_content_type": b.qc_report_content_type,
        "qc_report_sha256": b.qc_report_sha256,
        "quick_tests": b.quick_tests,
        "arrival_temperature_c": b.arrival_temperature_c,
        "status": b.status,
        "accepted_at": b.accepted_at,
        "acceptance": (
            {
                "result": check.result,
                "accepted_quantity": check.accepted_quantity,
                "rejected_quantity": check.rejected_quantity,
                "reason": check.reason,
                "checked_at": check.checked_at,
            }
            if check is not None
            else None
        ),
        "supplier_id": str(b.supplier_id),
        "supplier": b.supplier.name,
        "supplier_uscc": b.supplier.uscc,
        "delivery_id": str(b.delivery_line.delivery_id),
        "delivery_number": b.delivery_line.delivery.number,
        "dispatched_at": b.delivery_line.delivery.dispatched_at,
        "arrived_at": b.delivery_line.delivery.arrived_at,
        "vehicle_plate": b.delivery_line.delivery.vehicle_plate,
        "order_number": b.delivery_line.delivery.order.number,
        "campus_id": str(b.campus_id),
        "campus": str(b.campus),
        "school_id": str(b.campus.school_id),
        "district_id": str(b.district_id),
    }


def batch_detail(*, batch_id: UUID | str) -> dict[str, Any] | None:
    """Everything trace shows about a batch (no personal data: no names of people). None if
    unknown."""
    b = (
        Batch.objects.select_related(
            "item", "supplier", "campus", "campus__school", "delivery_line__delivery__order", "acceptance"
        )
        .filter(pk=batch_id)
        .first()
    )
    return _batch_dict(b) if b is not None else None


def batches_issued(*, campus: Campus | UUID | str, day: date, meal_kind: str | None = None) -> list[dict[str, Any]]:
    """Backward lineage: which batches went to the kitchen of `campus` for `day` (and meal)."""
    campus_id = getattr(campus, "pk", campus)
    qs = StockMovement.objects.filter(campus_id=campus_id, day=day, kind=MovementKind.ISSUE)
    if meal_kind:
        qs = qs.filter(meal_kind=meal_kind)
    rows = (
        qs.values(
            "batch_id",
            "batch__batch_number",
            "item_id",
            "item__name",
            "batch__unit",
            "meal_kind",
            "dish_id",
            "dish_name",
            "batch__supplier__name",
            "batch__producer",
            "batch__production_date",
            "batch__expires_on",
        )
        .annotate(quantity=Sum("quantity"))
        .order_by("meal_kind", "item__name", "batch__batch_number")
    )
    return [
        {
            "batch_id": str(r["batch_id"]),
            "batch_number": r["batch__batch_number"],
            "item_id": str(r["item_id"]),
            "item": r["item__name"],
            "unit": r["batch__unit"],
            "quantity": -r["quantity"],
            "campus_id": str(campus_id),
            "day": day,
            "meal_kind": r["meal_kind"],
            "dish_id": str(r["dish_id"]) if r["dish_id"] else "",
            "dish_name": r["dish_name"],
            "supplier": r["batch__supplier__name"],
            "producer": r["batch__producer"],
            "production_date": r["batch__production_date"],
            "expires_on": r["batch__expires_on"],
        }
        for r in rows
    ]


def issues_of_batch(*, batch: Batch | UUID | str) -> list[dict[str, Any]]:
    """Forward lineage (for a recall): every day/meal/campus (and dish) a batch was issued to."""
    batch_id = getattr(batch, "pk", batch)
    rows = (
        StockMovement.objects.filter(batch_id=batch_id, kind=MovementKind.ISSUE)
        .values(
            "day",
            "meal_kind",
            "campus_id",
            "campus__name",
            "campus__school__name",
            "campus__school_id",
            "dish_id",
            "dish_name",
        )
        .annotate(quantity=Sum("quantity"))
        .order_by("day", "meal_kind", "campus__school__name")
    )
    return [
        {
            "batch_id": str(batch_id),
            "day": r["day"],
            "meal_kind": r["meal_kind"],
            "campus_id": str(r["campus_id"]),
            "campus": f"{r['campus__school__name']}·{r['campus__name']}",
            "school_id": str(r["campus__school_id"]),
            "dish_id": str(r["dish_id"]) if r["dish_id"] else "",
            "dish_name": r["dish_name"],
            "quantity": -r["quantity"],
        }
        for r in rows
    ]


def accepted_batches(*, district: District | UUID | str, since: date | None = None) -> QuerySet[Batch]:
    """Batches accepted in a district (trace's backfill and EPCIS export)."""
    qs = Batch.objects.filter(
        district_id=getattr(district, "pk", district),
        status__in=[BatchStatus.ACCEPTED, BatchStatus.PARTIALLY_ACCEPTED],
    )
    if since is not None:
        qs = qs.filter(accepted_at__date__gte=since)
    return qs.select_related("item", "supplier", "campus").order_by("accepted_at")


def spend_by_supplier(*, actor: Any, day_from: date, day_to: date) -> list[dict[str, Any]]:
    """Accepted value per supplier over a period (for supervision's spend rollups)."""
    return list(
        Delivery.objects.visible_to(actor)
        .filter(accepted_at__date__gte=day_from, accepted_at__date__lte=day_to)
        .values("supplier_id", "supplier__name")
        .annotate(accepted_fen=Sum("accepted_fen"), deliveries=Count("id"))
        .order_by("-accepted_fen")
    )


# ---------------------------------------------------------------- stock value and food cost (issue 22)


def _fen(total: Any) -> int:
    return int(Decimal(total or 0).to_integral_value(ROUND_HALF_UP))


def stock_value_fen(*, campus_id: Any) -> int:
    """What is in the store, each batch at the price it was accepted at. Stock issues take
    batches first-expiring first (services.stock_issue), so valuing by batch follows the issue
    order exactly: what is left is the batches the kitchen has not reached yet."""
    total = Batch.objects.filter(campus_id=campus_id, on_hand__gt=0).aggregate(
        v=Sum(F("on_hand") * F("delivery_line__price_fen"))
    )["v"]
    return _fen(total)


def issued_cost_fen(*, campus_ids: list[Any], start: date, end: date) -> dict[Any, int]:
    """Food issued to the kitchen per campus in [start, end], at each batch's accepted price: the
    cost of the meals cooked (cost per meal = this / meals served)."""
    rows = (
        StockMovement.objects.filter(campus_id__in=campus_ids, kind=MovementKind.ISSUE, day__gte=start, day__lte=end)
        .values_list("campus_id")
        .annotate(v=Sum(F("quantity") * F("batch__delivery_line__price_fen")))
    )
    return {campus_id: -_fen(v) for campus_id, v in rows}
