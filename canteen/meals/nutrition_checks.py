"""Checking a campus-day's published menus against WS/T 554-2017 (stored and announced)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from django.db import transaction

from canteen.core.events import publish
from canteen.org.choices import StudentStatus
from canteen.org.models import Campus, Student

from . import guideline
from .models import NutritionCheck


def campus_age_group(*, campus: Campus, day: date) -> str:
    """The age band of the campus's median enrolled student: portions are planned for it."""
    births = sorted(
        Student.objects.filter(campus=campus, status=StudentStatus.ENROLLED).values_list("birth_date", flat=True)
    )
    if not births:
        return "9-11"
    median = births[len(births) // 2]
    age = day.year - median.year - ((day.month, day.day) < (median.month, median.day))
    return guideline.age_group(age)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "quantize"):
        return str(value)
    return value


def evaluate_day(
    *, campus: Campus, day: date, group: str | None = None, include_drafts: bool = False
) -> tuple[list[guideline.Flag], dict]:
    """Flags and per-set-meal nutrients of a campus-day's published menus (with drafts: a
    preview before publishing). No writes."""
    from .selectors import _build_menus

    group = group or campus_age_group(campus=campus, day=day)
    menus = _build_menus(campus.pk, day, published_only=not include_drafts, with_nutrition=True)
    flags: list[guideline.Flag] = []
    sessions: dict[str, dict] = {}
    for menu in menus:
        for set_meal in menu.set_meals:
            flags += guideline.check_meal(
                totals=set_meal.nutrition, session_kind=menu.kind, group=group, subject=set_meal.name
            )
            sessions.setdefault(menu.kind, {})[set_meal.name] = _jsonable(set_meal.nutrition)
    return flags, {"age_group": group, "sessions": sessions}


@transaction.atomic
def nutrition_check_day(*, campus: Campus, day: date, group: str | None = None) -> NutritionCheck:
    flags, summary = evaluate_day(campus=campus, day=day, group=group)
    passed = not any(f.severity == guideline.FAIL for f in flags)
    flag_dicts = [f.as_dict() for f in flags]
    summary["counts"] = dict(Counter(f.severity for f in flags))
    check = NutritionCheck.objects.create(campus=campus, day=day, passed=passed, flags=flag_dicts, summary=summary)
    publish(
        "meals.nutrition_checked",
        {
            "check_id": str(check.id),
            "campus_id": str(campus.id),
            "school_id": str(campus.school_id),
            "district_id": str(campus.school.district_id),
            "day": day.isoformat(),
            "passed": passed,
            "flags": flag_dicts,
        },
    )
    return check
