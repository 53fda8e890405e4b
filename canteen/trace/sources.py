"""What trace reads from other domains, in one place.

Procurement's batches, deliveries, acceptance checks and stock issues are read here, read-only;
meals' dishes through `canteen.meals.selectors` when that app provides it. Trace never writes
their tables. Keeping every foreign read in this module makes the coupling visible and lets a
district that splits the domains into services swap this file for API calls."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID

from django.db.models import QuerySet

from canteen.procurement.choices import BatchStatus, MovementKind
from canteen.procurement.models import Batch, StockMovement

ACCEPTED = (BatchStatus.ACCEPTED, BatchStatus.PARTIALLY_ACCEPTED)


def batch_for_trace(batch_id: UUID | str) -> Batch | None:
    return (
        Batch.objects.select_related("item", "supplier", "campus__school", "district", "delivery_line__delivery")
        .filter(pk=batch_id)
        .first()
    )


def issues_of_batch(batch_id: UUID | str) -> QuerySet[StockMovement]:
    """Issues to the kitchen: the forward lineage of a batch (campus, day, meal, dish)."""
    return (
        StockMovement.objects.filter(batch_id=batch_id, kind=MovementKind.ISSUE)
        .select_related("campus__school")
        .order_by("day", "meal_kind", "id")
    )


def issues_of_meal(*, campus_id: Any, day: date, meal_kind: str) -> QuerySet[StockMovement]:
    return StockMovement.objects.filter(
        campus_id=campus_id, day=day, meal_kind=meal_kind, kind=MovementKind.ISSUE
    ).select_related("item", "batch")


def batches_issued_on(*, campus_id: Any, day: date, meal_kind: str | None = None) -> dict[UUID, list[StockMovement]]:
    qs = StockMovement.objects.filter(campus_id=campus_id, day=day, kind=MovementKind.ISSUE).select_related(
        "batch__item", "batch__supplier"
    )
    if meal_kind:
        qs = qs.filter(meal_kind=meal_kind)
    grouped: dict[UUID, list[StockMovement]] = defaultdict(list)
    for movement in qs:
        grouped[movement.batch_id].append(movement)
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
