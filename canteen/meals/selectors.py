"""Reads of the meals domain.

For the serving window (consumption): `current_session(campus=, at=)` and
`meal_offer_for(student=, at=)`; both read the campus-day board from the cache (one query on a
miss) and meal_offer_for adds one query for the student's plan: at most 2 queries, 1 when warm.
For trace: `menu_for_day`, `dishes_served`. For procurement: `ingredient_demand`."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from canteen.core.money import Money
from canteen.org.choices import StudentStatus
from canteen.org.models import Campus, Student

from . import cache as meals_cache
from .choices import SESSION_ORDER, Diet, MenuStatus
from .models import (
    Dish,
    Ingredient,
    MealOptOut,
    MealPlan,
    MealPlanChoice,
    MealSession,
    Menu,
    MenuBoard,
    MenuEntry,
    NutritionCheck,
    RecipeLine,
    SetMeal,
)
from .nutrition import Totals, totals_of


@dataclass(frozen=True)
class MealOffer:
    """What the window shows and charges for one student now."""

    session_kind: str
    session_id: Any
    set_meal_id: Any
    set_meal_name: str
    price: Money
    dishes: list[str]
    served_on: date
    allergens: list[str]
    # The student's own recorded allergens that this meal contains (warn at the window).
    allergy_conflicts: list[str] = field(default_factory=list)
    allows_second_meal: bool = False
    # A diet of the student's plan (halal, vegetarian) that this meal does not keep, "" if none.
    diet_conflict: str = ""
    # When there is a conflict: the menu's set meal of this session that holds none of the
    # student's allergens and keeps their diet (what the window serves instead), if any.
    alternative_id: Any = None
    alternative_name: str = ""

    @property
    def conflicts(self) -> list[str]:
        """Allergen codes and "diet:<diet>": what the window must not serve unchecked."""
        return [*self.allergy_conflicts, *([f"diet:{self.diet_conflict}"] if self.diet_conflict else [])]


@dataclass(frozen=True)
class DishView:
    id: Any
    name: str
    name_en: str
    allergens: list[str]
    diet_tags: list[str]
    photo_url: str | None


@dataclass(frozen=True)
class SetMealView:
    id: Any
    name: str
    price: Money
    diet: str
    is_default: bool
    dishes: list[DishView]
    allergens: list[str]
    nutrition: dict | None = None
    totals: Totals | None = None


@dataclass(frozen=True)
class SessionMenu:
    session_id: Any
    kind: str
    serve_start: time
    serve_end: time
    allows_second_meal: bool
    menu_id: Any
    version: int
    status: str
    set_meals: list[SetMealView]

    @property
    def kind_label(self) -> str:
        from canteen.core.i18n import pair_of, tr

        from .choices import SessionKind

        zh, en = pair_of(SessionKind(self.kind).label)
        return tr(zh, en)


def _photo_url(dish: Dish) -> str | None:
    if not dish.photo:
        return None
    # The version in the query string lets the board cache photos for long.
    return reverse("meals:dish-photo", kwargs={"dish_id": dish.id}) + f"?v={int(dish.updated_at.timestamp())}"


def _build_menus(campus_id: Any, day: date, *, published_only: bool, with_nutrition: bool) -> list[SessionMenu]:
    entries = MenuEntry.objects.filter(menu__campus_id=campus_id, menu__day=day).select_related(
        "menu__session", "set_meal", "dish"
    )
    if published_only:
        entries = entries.filter(menu__status=MenuStatus.PUBLISHED)
    if with_nutrition:
        entries = entries.prefetch_related(
            Prefetch("dish__lines", queryset=RecipeLine.objects.select_related("ingredient"))
        )
    sessions: dict[Any, dict] = {}
    for entry in entries.order_by("menu__session__serve_start", "set_meal__name", "position"):
        menu, session = entry.menu, entry.menu.session
        s = sessions.setdefault(menu.id, {"menu": menu, "session": session, "set_meals": {}})
        sm = s["set_meals"].setdefault(entry.set_meal_id, {"set_meal": entry.set_meal, "dishes": []})
        sm["dishes"].append(entry.dish)
    result = []
    for s in sessions.values():
        views = []
        for sm in s["set_meals"].values():
            set_meal, dishes = sm["set_meal"], sm["dishes"]
            allergens = _ordered_union(d.allergens for d in dishes)
            nutrition, totals = None, None
            if with_nutrition:
                totals = Totals()
                for dish in dishes:
                    totals = totals + totals_of((ln.ingredient, ln.grams) for ln in dish.lines.all())
                nutrition = totals.as_dict()
            views.append(
                SetMealView(
                    id=set_meal.id,
                    name=set_meal.name,
                    price=Money(set_meal.price_fen),
                    diet=set_meal.diet,
                    is_default=set_meal.is_default,
                    dishes=[
                        DishView(d.id, d.name, d.name_en, list(d.allergens), list(d.diet_tags), _photo_url(d))
                        for d in dishes
                    ],
                    allergens=allergens,
                    nutrition=nutrition,
                    totals=totals,
                )
            )
        views.sort(key=lambda v: (not v.is_default, v.diet != Diet.STANDARD, v.name))
        session, menu = s["session"], s["menu"]
        result.append(
            SessionMenu(
                session_id=session.id,
                kind=session.kind,
                serve_start=session.serve_start,
                serve_end=session.serve_end,
                allows_second_meal=session.allows_second_meal,
                menu_id=menu.id,
                version=menu.version,
                status=menu.status,
                set_meals=views,
            )
        )
    result.sort(key=lambda m: (SESSION_ORDER.get(m.kind, 9), m.serve_start))
    return result


def _ordered_union(lists) -> list[str]:
    from .choices import Allergen

    found = {a for allergens in lists for a in allergens}
    return [a.value for a in Allergen if a.value in found]


def _cached_menus(campus_id: Any, day: date, *, with_nutrition: bool = False, local: bool = False) -> list[SessionMenu]:
    key = meals_cache.key("menus", campus_id, day.isoformat(), int(with_nutrition))
    return meals_cache.get_or_set(
        key, lambda: _build_menus(campus_id, day, published_only=True, with_nutrition=with_nutrition), local=local
    )


def menu_for_day(
    *,
    campus: Campus,
    day: date,
    actor: Any = None,
    include_drafts: bool = False,
    with_nutrition: bool = False,
) -> list[SessionMenu]:
    """The menus of a campus for a day, by session (published only unless include_drafts, which
    needs an actor who may see the campus)."""
    if include_drafts:
        if actor is None or not Campus.objects.visible_to(actor).filter(pk=campus.pk).exists():
            return []
        return _build_menus(campus.pk, day, published_only=False, with_nutrition=with_nutrition)
    return _cached_menus(campus.pk, day, with_nutrition=with_nutrition)


def dishes_served(*, campus: Campus, day: date, session_kind: str | None = None) -> QuerySet[Dish]:
    """Dishes on the published menu of a campus-day (one session kind, or all)."""
    filters = Q(
        menu_entries__menu__campus=campus,
        menu_entries__menu__day=day,
        menu_entries__menu__status=MenuStatus.PUBLISHED,
    )
    if session_kind:
        filters &= Q(menu_entries__menu__session__kind=session_kind)
    return Dish.objects.filter(filters).distinct().order_by("name")


def _session_at(menus: list[SessionMenu], moment: time) -> SessionMenu | None:
    for menu in menus:
        if menu.serve_start <= moment < menu.serve_end:
            return menu
    return None


def current_session(*, campus: Campus | Any, at: datetime) -> MealSession | None:
    """The campus's active meal session at `at` (whether or not a menu is published)."""
    campus_id = getattr(campus, "pk", campus)
    local = timezone.localtime(at)
    sessions = meals_cache.get_or_set(
        meals_cache.key("sessions", campus_id),
        lambda: list(MealSession.objects.filter(campus_id=campus_id, active=True).order_by("serve_start")),
    )
    moment = local.time()
    for session in sessions:
        if session.serve_start <= moment < session.serve_end:
            return session
    return None


def choose_set_meal(set_meals: list[SetMealView], *, chosen_id: Any, diet: str | None) -> SetMealView | None:
    """The set meal a student gets: their chosen one if on the menu, else one of their diet,
    else the default, else the first standard one."""
    if not set_meals:
        return None
    by_id = {sm.id: sm for sm in set_meals}
    if chosen_id in by_id:
        return by_id[chosen_id]
    if diet and diet != Diet.STANDARD:
        for sm in set_meals:
            if sm.diet == diet:
                return sm
    for sm in set_meals:
        if sm.is_default:
            return sm
    standard = [sm for sm in set_meals if sm.diet == Diet.STANDARD]
    return (standard or set_meals)[0]


@functools.cache
def _plan_sql() -> str:
    """Built once: the window asks it on every checkout."""
    qn = connection.ops.quote_name
    plan, choice, opt_out = (qn(m._meta.db_table) for m in (MealPlan, MealPlanChoice, MealOptOut))
    return (
        "SELECT p.diet, c.set_meal_id, c.enrolled, EXISTS ("  # noqa: S608 - our own tables
        f"SELECT 1 FROM {opt_out} o WHERE o.student_id = %s AND o.start <= %s AND o.{qn('end')} >= %s"
        " AND (o.session_kind = '' OR o.session_kind = %s))"
        f" FROM (SELECT 1 AS one) AS one LEFT JOIN {plan} p ON p.student_id = %s"
        f" LEFT JOIN {choice} c ON c.plan_id = p.id AND c.session_kind = %s"
    )


def _plan_row(student_id: Any, session_kind: str, day: date) -> dict[str, Any]:
    """The student's diet, chosen set meal and enrolment for a session, and whether they opted
    out that day: one statement with fixed text. The window asks this on every checkout, where
    building the same query through the ORM cost more than the database spends answering it."""
    pk = Student._meta.pk.get_db_prep_value(student_id, connection)
    on = connection.ops.adapt_datefield_value(day)
    with connection.cursor() as cursor:
        cursor.execute(_plan_sql(), [pk, on, on, session_kind, pk, session_kind])
        diet, chosen_id, enrolled, opted_out = cursor.fetchone()
    return {
        "plan_diet": diet,
        # SQLite hands back UUIDs as hex text and booleans as integers.
        "chosen_id": uuid.UUID(str(chosen_id)) if chosen_id else None,
        "chosen_enrolled": None if enrolled is None else bool(enrolled),
        "opted_out": bool(opted_out),
    }


def meal_offer_for(*, student: Student, at: datetime, set_meal_id: Any = None) -> MealOffer | None:
    """What the window offers this student at `at`: None outside serving hours, without a
    published menu, when the student does not eat this session or has opted out that day.
    `set_meal_id`: the window serves this set meal of the menu instead (an allergen conflict's
    alternative); None if it is not on the menu."""
    if student.status != StudentStatus.ENROLLED:
        return None
    local = timezone.localtime(at)
    day = local.date()
    menus = _cached_menus(student.campus_id, day, local=True)  # read-only below
    session = _session_at(menus, local.time())
    if session is None:
        return None
    row = _plan_row(student.pk, session.kind, day)
    if row["opted_out"] or row["chosen_enrolled"] is False:
        return None
    if set_meal_id is not None:
        set_meal = next((sm for sm in session.set_meals if str(sm.id) == str(set_meal_id)), None)
    else:
        set_meal = choose_set_meal(session.set_meals, chosen_id=row["chosen_id"], diet=row["plan_diet"])
    if set_meal is None:
        return None
    own = set(student.allergens or [])
    conflicts = [a for a in set_meal.allergens if a in own]
    diet = _diet_broken(set_meal, row["plan_diet"])
    alternative = _alternative(session.set_meals, own, row["plan_diet"]) if conflicts or diet else None
    return MealOffer(
        session_kind=session.kind,
        session_id=session.session_id,
        set_meal_id=set_meal.id,
        set_meal_name=set_meal.name,
        price=set_meal.price,
        dishes=[d.name for d in set_meal.dishes],
        served_on=day,
        allergens=list(set_meal.allergens),
        allergy_conflicts=conflicts,
        allows_second_meal=session.allows_second_meal,
        diet_conflict=diet,
        alternative_id=alternative.id if alternative is not None else None,
        alternative_name=alternative.name if alternative is not None else "",
    )


# Diets that are rules, not preferences: a meal that does not keep them is a conflict.
_STRICT_DIETS = frozenset({Diet.HALAL, Diet.VEGETARIAN})


def _diet_broken(set_meal: SetMealView, diet: str | None) -> str:
    if diet not in _STRICT_DIETS or set_meal.diet == diet:
        return ""
    if set_meal.dishes and all(diet in d.diet_tags for d in set_meal.dishes):
        return ""
    return str(diet)


def _alternative(set_meals: list[SetMealView], own: set[str], diet: str | None) -> SetMealView | None:
    """The set meal of the menu to serve instead: none of the allergens, the diet kept; a
    low-allergen meal first, then the default, then the cheapest."""
    fits = [sm for sm in set_meals if not (own & set(sm.allergens)) and not _diet_broken(sm, diet)]
    fits.sort(key=lambda sm: (sm.diet != Diet.LOW_ALLERGEN, not sm.is_default, sm.price.fen))
    return fits[0] if fits else None


# ---------------------------------------------------------------- lists for pages and the API


def sessions_of(*, actor: Any, campus: Campus) -> QuerySet[MealSession]:
    return MealSession.objects.visible_to(actor).filter(campus=campus).order_by("serve_start")


def set_meals_of(*, actor: Any, campus: Campus) -> QuerySet[SetMeal]:
    return SetMeal.objects.visible_to(actor).filter(campus=campus, active=True).prefetch_related("dishes")


def dishes_of(*, actor: Any, school_id: Any) -> QuerySet[Dish]:
    return (
        Dish.objects.visible_to(actor)
        .filter(school_id=school_id, active=True)
        .prefetch_related(Prefetch("lines", queryset=RecipeLine.objects.select_related("ingredient")))
        .distinct()
    )


def campuses_for(*, actor: Any) -> QuerySet[Campus]:
    return Campus.objects.visible_to(actor).select_related("school").order_by("code")


def menus_between(*, actor: Any, campus: Campus, start: date, end: date) -> QuerySet[Menu]:
    return (
        Menu.objects.visible_to(actor)
        .filter(campus=campus, day__gte=start, day__lte=end)
        .select_related("session")
        .prefetch_related("versions")
    )


def food_table() -> QuerySet[Ingredient]:
    """The food composition table: public reference data, deliberately unscoped."""
    return Ingredient.objects.all()


def latest_nutrition_check(*, campus: Campus, day: date) -> NutritionCheck | None:
    return NutritionCheck.objects.filter(campus=campus, day=day).order_by("-created_at").first()


def board_by_token(*, token: str) -> MenuBoard | None:
    """The public menu board of a token (no actor: the token is the permission)."""
    if not token or len(token) > 40:
        return None
    return (
        MenuBoard.objects.filter(token=token, active=True).select_related("canteen__campus__school__district").first()
    )


def ingredient_demand(*, campus: Campus, day: date) -> list[tuple[Any, Decimal, str]]:
    """[(procurement_item_id, quantity, unit)] for a campus-day: forecast portions × recipe grams,
    in kg, for recipe lines linked to a catalogue item (see forecast.ingredient_demand_detail for
    every line, linked or not)."""
    from .forecast import ingredient_demand_detail

    return [
        (row.procurement_item_id, row.quantity_kg, "kg")
        for row in ingredient_demand_detail(campus=campus, day=day)
        if row.procurement_item_id is not None
    ]


def student_day_nutrition(*, student: Student, day: date) -> tuple[Totals, list[tuple[str, str]]]:
    """A student's day: the sum of the set meals they get in each published session (their plan,
    diet and opt-outs applied), with (session kind, set meal name) of each."""
    from .forecast import student_set_meals

    totals, eaten = Totals(), []
    menus = _build_menus(student.campus_id, day, published_only=True, with_nutrition=True)
    chosen = student_set_meals(student=student, day=day, menus=menus)
    for menu in menus:
        set_meal = chosen.get(menu.kind)
        if set_meal is None:
            continue
        totals = totals + set_meal.totals
        eaten.append((menu.kind, set_meal.name))
    return totals, eaten
