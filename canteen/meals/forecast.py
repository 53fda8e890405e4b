"""Production forecast: how many portions of each dish a campus should cook on a day, and the
ingredients that takes (for procurement's purchase-order suggestions).

planned  = students whose meal plan gives them that set meal that session, less opt-outs;
ratio    = served / planned over the last LOOKBACK_DAYS days with serving data for the same
           session and set meal (consumption's meal records; else meals' own served counts);
           1.0 without history;
portions = ceil(planned × ratio) per set meal; a dish's portions add up over the set meals that
           carry it; ingredient quantity = portions × recipe grams."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from typing import Any

from django.db.models import Count

from canteen.org.choices import StudentStatus
from canteen.org.models import Campus, Student

from .models import MealOptOut, MealPlan, MealPlanChoice, RecipeLine, ServedCount

LOOKBACK_DAYS = 14
RATIO_BOUNDS = (Decimal("0.30"), Decimal("1.20"))


class _System:
    """The forecast job reads other domains' selectors as the system, not as a user."""

    is_authenticated = True
    is_active = True
    is_superuser = True
    username = "system"
    pk = None


SYSTEM = _System()


@dataclass(frozen=True)
class SetMealForecast:
    session_kind: str
    set_meal_id: Any
    set_meal_name: str
    planned: int
    ratio: Decimal
    history_days: int
    portions: int


@dataclass(frozen=True)
class DishForecast:
    dish_id: Any
    dish_name: str
    portions: int


@dataclass(frozen=True)
class DemandRow:
    food_code: str
    name: str
    procurement_item_id: Any
    quantity_kg: Decimal


def planned_portions(*, campus: Campus, day: date) -> dict[tuple[str, Any], int]:
    """(session kind, set meal id) → students planned to eat it on `day` (menus of any status)."""
    from .selectors import _build_menus, choose_set_meal

    menus = _build_menus(campus.pk, day, published_only=False, with_nutrition=False)
    if not menus:
        return {}
    students = list(Student.objects.filter(campus=campus, status=StudentStatus.ENROLLED).values_list("id", flat=True))
    diets = dict(MealPlan.objects.filter(student__campus=campus).values_list("student_id", "diet"))
    choices = {
        (student_id, kind): (set_meal_id, enrolled)
        for student_id, kind, set_meal_id, enrolled in MealPlanChoice.objects.filter(
            plan__student__campus=campus
        ).values_list("plan__student_id", "session_kind", "set_meal_id", "enrolled")
    }
    opted: dict[Any, set[str]] = defaultdict(set)
    for student_id, kind in MealOptOut.objects.filter(student__campus=campus, start__lte=day, end__gte=day).values_list(
        "student_id", "session_kind"
    ):
        opted[student_id].add(kind)
    counts: dict[tuple[str, Any], int] = defaultdict(int)
    for menu in menus:
        for student_id in students:
            if "" in opted[student_id] or menu.kind in opted[student_id]:
                continue
            chosen_id, enrolled = choices.get((student_id, menu.kind), (None, True))
            if not enrolled:
                continue
            set_meal = choose_set_meal(menu.set_meals, chosen_id=chosen_id, diet=diets.get(student_id))
            if set_meal is not None:
                counts[(menu.kind, set_meal.id)] += 1
    return dict(counts)


def student_set_meals(*, student: Student, day: date, menus: list | None = None) -> dict[str, Any]:
    """Session kind → the SetMealView a student gets on `day` (absent: not eating)."""
    from .selectors import _build_menus, choose_set_meal

    if student.status != StudentStatus.ENROLLED:
        return {}
    if menus is None:
        menus = _build_menus(student.campus_id, day, published_only=True, with_nutrition=False)
    diet = MealPlan.objects.filter(student=student).values_list("diet", flat=True).first()
    choices = {
        kind: (set_meal_id, enrolled)
        for kind, set_meal_id, enrolled in MealPlanChoice.objects.filter(plan__student=student).values_list(
            "session_kind", "set_meal_id", "enrolled"
        )
    }
    opted = set(
        MealOptOut.objects.filter(student=student, start__lte=day, end__gte=day).values_list("session_kind", flat=True)
    )
    result = {}
    for menu in menus:
        if "" in opted or menu.kind in opted:
            continue
        chosen_id, enrolled = choices.get(menu.kind, (None, True))
        if not enrolled:
            continue
        set_meal = choose_set_meal(menu.set_meals, chosen_id=chosen_id, diet=diet)
        if set_meal is not None:
            result[menu.kind] = set_meal
    return result


def served_history(*, campus: Campus, start: date, end: date) -> dict[tuple[date, str, str], int]:
    """(day, session kind, set meal id as text) → first servings, from consumption's meal records
    when the campus has any in the period, else from meals' recorded served counts."""
    history: dict[tuple[date, str, str], int] = {}
    try:
        from canteen.consumption import selectors as consumption
    except ImportError:  # pragma: no cover - consumption is installed in this project
        consumption = None
    if consumption is not None and hasattr(consumption, "meal_records"):
        rows = (
            consumption.meal_records(actor=SYSTEM, campus_id=campus.pk, date_from=start, date_to=end, status="served")
            .filter(serving_no=1)
            .order_by()
            .values("served_on", "session_kind", "set_meal_id")
            .annotate(n=Count("id"))
        )
        for row in rows:
            key = (row["served_on"], row["session_kind"], str(row["set_meal_id"]))
            history[key] = history.get(key, 0) + row["n"]
    if history:
        return history
    for row in ServedCount.objects.filter(campus=campus, day__gte=start, day__lte=end):
        history[(row.day, row.session_kind, str(row.set_meal_id))] = row.served
    return history


def _planned_from_counts(*, campus: Campus, start: date, end: date) -> dict[tuple[date, str, str], int]:
    return {
        (row.day, row.session_kind, str(row.set_meal_id)): row.planned
        for row in ServedCount.objects.filter(campus=campus, day__gte=start, day__lte=end, planned__gt=0)
    }


def _school_day(campus: Campus, day: date) -> bool:
    """schoolcalendar's answer; beyond the national holiday data, days with a published menu
    are cooked for (the calendar's error is for the subsidy, not for the kitchen's plan)."""
    from canteen.schoolcalendar.services import CalendarYearUnknown, is_school_day

    try:
        return is_school_day(campus, day)
    except CalendarYearUnknown:
        return True


def forecast_set_meals(*, campus: Campus, day: date) -> list[SetMealForecast]:
    from .selectors import _build_menus

    if not _school_day(campus, day):
        return []  # nothing to cook on a holiday, in a vacation or on a closure day (schoolcalendar)
    planned = planned_portions(campus=campus, day=day)
    if not planned:
        return []
    start, end = day - timedelta(days=LOOKBACK_DAYS), day - timedelta(days=1)
    history = served_history(campus=campus, start=start, end=end)
    recorded_planned = _planned_from_counts(campus=campus, start=start, end=end)
    past_planned: dict[date, dict] = {}
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # served, planned, days
    for (past_day, kind, set_meal_id), served in history.items():
        planned_then = recorded_planned.get((past_day, kind, set_meal_id))
        if planned_then is None:
            if past_day not in past_planned:
                past_planned[past_day] = {
                    (k, str(s)): n for (k, s), n in planned_portions(campus=campus, day=past_day).items()
                }
            planned_then = past_planned[past_day].get((kind, set_meal_id), 0)
        if planned_then <= 0:
            continue
        acc = sums[(kind, set_meal_id)]
        acc[0] += served
        acc[1] += planned_then
        acc[2] += 1
    names = {
        sm.id: sm.name
        for menu in _build_menus(campus.pk, day, published_only=False, with_nutrition=False)
        for sm in menu.set_meals
    }
    result = []
    for (kind, set_meal_id), count in sorted(planned.items(), key=lambda kv: (kv[0][0], names.get(kv[0][1], ""))):
        served, planned_sum, days = sums.get((kind, str(set_meal_id)), [0, 0, 0])
        exact = Fraction(served, planned_sum) if planned_sum else Fraction(1)
        exact = min(max(exact, Fraction(RATIO_BOUNDS[0])), Fraction(RATIO_BOUNDS[1]))
        # Exact fractions: 12 planned × 11/12 is 11 portions, not ceil(12 × 0.917) = 12.
        portions = math.ceil(count * exact)
        ratio = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.001"))
        result.append(
            SetMealForecast(
                session_kind=kind,
                set_meal_id=set_meal_id,
                set_meal_name=names.get(set_meal_id, ""),
                planned=count,
                ratio=ratio,
                history_days=days,
                portions=portions,
            )
        )
    return result


def forecast_dishes(*, campus: Campus, day: date) -> list[DishForecast]:
    from .selectors import _build_menus

    by_set_meal = {(f.session_kind, f.set_meal_id): f.portions for f in forecast_set_meals(campus=campus, day=day)}
    portions: dict[Any, int] = defaultdict(int)
    names: dict[Any, str] = {}
    for menu in _build_menus(campus.pk, day, published_only=False, with_nutrition=False):
        for sm in menu.set_meals:
            for dish in sm.dishes:
                portions[dish.id] += by_set_meal.get((menu.kind, sm.id), 0)
                names[dish.id] = dish.name
    return sorted(
        (DishForecast(dish_id=d, dish_name=names[d], portions=n) for d, n in portions.items()),
        key=lambda f: (-f.portions, f.dish_name),
    )


def ingredient_demand_detail(*, campus: Campus, day: date) -> list[DemandRow]:
    dishes = {f.dish_id: f.portions for f in forecast_dishes(campus=campus, day=day)}
    totals: dict[tuple[str, Any], Decimal] = defaultdict(Decimal)
    names: dict[str, str] = {}
    for line in RecipeLine.objects.filter(dish_id__in=list(dishes)).select_related("ingredient"):
        key = (line.ingredient.code, line.procurement_item_id)
        totals[key] += line.grams * dishes[line.dish_id]
        names[line.ingredient.code] = line.ingredient.name_zh
    return [
        DemandRow(
            food_code=code,
            name=names[code],
            procurement_item_id=item_id,
            quantity_kg=(grams / 1000).quantize(Decimal("0.001"), rounding=ROUND_CEILING),
        )
        for (code, item_id), grams in sorted(totals.items(), key=lambda kv: -kv[1])
    ]


__all__ = ["forecast_dishes", "forecast_set_meals", "ingredient_demand_detail", "planned_portions"]
