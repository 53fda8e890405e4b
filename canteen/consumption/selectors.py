"""Reads for consumption, each starting from what the actor may see."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, QuerySet, Sum

from canteen.org.choices import StudentStatus
from canteen.org.models import Student

from .models import MealRecord, RecordStatus, Terminal


def meal_records(
    *,
    actor: Any,
    campus_id: Any = None,
    student_id: Any = None,
    served_on: date | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: str | None = None,
) -> QuerySet[MealRecord]:
    qs = MealRecord.objects.visible_to(actor).select_related("student", "student__school_class", "window")
    if campus_id:
        qs = qs.filter(campus_id=campus_id)
    if student_id:
        qs = qs.filter(student_id=student_id)
    if served_on:
        qs = qs.filter(served_on=served_on)
    if date_from:
        qs = qs.filter(served_on__gte=date_from)
    if date_to:
        qs = qs.filter(served_on__lte=date_to)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-served_at")


def meal_record_by_key(*, actor: Any, idempotency_key: str) -> MealRecord | None:
    return MealRecord.objects.visible_to(actor).filter(idempotency_key=idempotency_key).first()


def meals_served_summary(*, actor: Any, campus_id: Any, served_on: date) -> list[dict]:
    """Per session: meals served and money charged on one day at one campus."""
    rows = (
        MealRecord.objects.visible_to(actor)
        .filter(campus_id=campus_id, served_on=served_on, status=RecordStatus.SERVED)
        .values("session_kind")
        .annotate(meals=Count("id"), amount_fen=Sum("price_fen"))
        .order_by("session_kind")
    )
    return list(rows)


def terminals(*, actor: Any, campus_id: Any = None) -> QuerySet[Terminal]:
    qs = Terminal.objects.visible_to(actor).select_related("window", "campus")
    return qs.filter(campus_id=campus_id) if campus_id else qs


def terminal_roster(*, terminal: Terminal) -> list[dict]:
    """What a terminal needs to show a student on its screen while offline: name, class and
    allergy/diet notes of every enrolled student of its campus. No faces, no balances."""
    from canteen.meals.choices import ALLERGEN_SHORT as labels

    students = (
        Student.objects.filter(campus_id=terminal.campus_id, status=StudentStatus.ENROLLED)
        .select_related("school_class")
        .only("id", "name", "student_number", "allergens", "diet_notes", "school_class__name")
    )
    return [
        {
            "id": str(s.pk),
            "name": s.name,
            "student_number": s.student_number,
            "class_name": s.school_class.name,
            "allergens": [labels.get(code, code) for code in (s.allergens or [])],
            "diet_notes": s.diet_notes,
        }
        for s in students
    ]


def allergen_conflicts_pending(*, actor: Any, served_on: Any) -> list:
    """The allergen conflicts of a day still waiting for the window staff, oldest first, scoped
    to what the actor may see."""
    from .models import AllergenConflict, ConflictResolution

    return list(
        AllergenConflict.objects.visible_to(actor)
        .filter(served_on=served_on, resolution=ConflictResolution.PENDING)
        .select_related("student__school_class", "window")
        .order_by("created_at")
    )
