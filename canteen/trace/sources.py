"""What trace reads from other domains, in one place.

Lineage goes through procurement's selectors (`issues_of_batch`, `batches_issued`); the batch
row itself is read here, read-only, because the public page streams its QC file and the EPCIS
export needs the delivery times; meals' dishes come through `canteen.meals.selectors`. Trace never writes
their tables. Keeping every foreign read in this module makes the coupling visible and lets a
district that splits the domains into services swap this file for API calls."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID

from canteen.procurement import selectors as proc_selectors
from canteen.procurement.choices import BatchStatus
from canteen.procurement.models import Batch

ACCEPTED = (BatchStatus.ACCEPTED, BatchStatus.PARTIALLY_ACCEPTED)


def trace_code_with_batch(code: str) -> Any:
    """The trace code with its batch and everything the public page shows of it, in one query."""
    from .models import TraceCode

    return (
        TraceCode.objects.select_related(
            "batch__item",
            "batch__supplier",
            "batch__campus__school",
            "batch__delivery_line__delivery",
            "batch__acceptance",
        )
        .filter(code=code)
        .first()
    )


def batch_for_trace(batch_id: UUID | str) -> Batch | None:
    return (
        Batch.objects.select_related(
            "item", "supplier", "campus__school", "district", "delivery_line__delivery", "acceptance"
        )
        .filter(pk=batch_id)
        .first()
    )


def issues_of_batches(
    batch_ids: list[Any], *, facts: dict[Any, tuple[str, Any]] | None = None, campus_codes: bool = True
) -> list[dict[str, Any]]:
    """Forward lineage through procurement's selector: one row per (batch, day, meal, campus,
    dish) with the quantity issued, plus the batch's unit and item (pass `facts` when the caller
    has them) and the campus code (EPCIS needs it, the public page does not)."""
    from canteen.org.models import Campus

    rows = [row for batch_id in batch_ids for row in proc_selectors.issues_of_batch(batch=batch_id)]
    if facts is None:
        facts = {
            pk: (unit, item_id)
            for pk, unit, item_id in Batch.objects.filter(pk__in=batch_ids).values_list("pk", "unit", "item_id")
        }
    codes = (
        dict(Campus.objects.filter(pk__in={r["campus_id"] for r in rows}).values_list("pk", "code"))
        if campus_codes and rows
        else {}
    )
    for row in rows:
        row["unit"], row["item_id"] = facts.get(UUID(str(row["batch_id"])), ("", None))
        row["campus_code"] = codes.get(UUID(row["campus_id"]), "")
    return rows


def batches_issued_on(*, campus_id: Any, day: date, meal_kind: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Backward lineage through procurement's selector, grouped by batch id."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in proc_selectors.batches_issued(campus=campus_id, day=day, meal_kind=meal_kind):
        grouped[row["batch_id"]].append(row)
    return grouped


def dishes_served(*, campus: Any, day: date, meal_kind: str) -> list[dict[str, Any]]:
    """Dishes on that campus's menu for that day and meal, from the meals app if it is there.
    Returns [{"id", "name", "procurement_item_ids"}]; empty when meals cannot say."""
    try:
        from canteen.meals import selectors as meals_selectors
    except ImportError:
        return []
    fn = getattr(meals_selectors, "dishes_served", None)
    if fn is None:
        return []
    try:
        rows = fn(campus=campus, day=day, session_kind=meal_kind)
    except Exception:  # a lineage page must still render if meals misbehaves
        return []
    result = []
    for row in rows or []:
        dish = row.get("dish") if isinstance(row, dict) else row
        name = row.get("name") if isinstance(row, dict) else getattr(dish, "name", str(dish))
        dish_id = row.get("id") if isinstance(row, dict) else getattr(dish, "id", None)
        items = row.get("procurement_item_ids") if isinstance(row, dict) else None
        if items is None and dish is not None and hasattr(dish, "lines"):
            items = [line.procurement_item_id for line in dish.lines.all() if line.procurement_item_id]
        result.append({"id": dish_id, "name": name or "", "procurement_item_ids": list(items or [])})
    return result


def pupils_served(meals: list[tuple[Any, date, str]]) -> dict[tuple[str, date, str], list[str]]:
    """The pupils served each (campus, day, meal) — consumption's meal records, voided ones
    excluded. Ids only: names are read by the scoped, audited recall selector."""
    from django.db.models import Q

    from canteen.consumption.models import MealRecord, RecordStatus

    if not meals:
        return {}
    where = Q()
    for campus_id, day, kind in meals:
        where |= Q(campus_id=campus_id, served_on=day, session_kind=kind)
    found: dict[tuple[str, date, str], list[str]] = defaultdict(list)
    rows = (
        MealRecord.objects.filter(where, status=RecordStatus.SERVED)
        .values_list("campus_id", "served_on", "session_kind", "student_id")
        .distinct()
    )
    for campus_id, day, kind, student_id in rows:
        found[(str(campus_id), day, kind)].append(str(student_id))
    return found
