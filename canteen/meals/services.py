"""Writes of the meals domain. Keyword-only, typed, atomic, audited."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import Conflict
from canteen.core.events import publish
from canteen.core.money import Money
from canteen.org.models import Campus, Canteen, School, Student

from . import cache as meals_cache
from .choices import Allergen, Diet, FoodGroup, MenuStatus, SessionKind
from .errors import (
    ChangeReasonRequired,
    EmptyMenu,
    InvalidRecipe,
    InvalidSession,
    UnknownIngredient,
    WrongCampus,
)
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
    MenuVersion,
    RecipeLine,
    ServedCount,
    SetMeal,
)

FOOD_TABLE = Path(__file__).with_name("data") / "food_composition.csv"
_ALLERGEN_ORDER = [a.value for a in Allergen]
_NUMERIC = ("energy_kcal", "protein_g", "fat_g", "carbohydrate_g", "fiber_g", "sodium_mg", "calcium_mg", "iron_mg")


# ---------------------------------------------------------------- food composition table


def read_food_table(path: Path = FOOD_TABLE) -> list[dict[str, Any]]:
    """Rows of the bundled CSV (comment lines start with '#'), validated."""
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    groups = {g.value for g in FoodGroup}
    result = []
    for row in rows:
        allergens = [a for a in (row["allergens"] or "").split(";") if a]
        unknown = set(allergens) - set(_ALLERGEN_ORDER)
        if row["food_group"] not in groups or unknown:
            raise ValueError(f"food table row {row['code']}: bad group or allergens {unknown}")
        item = {k: row[k] for k in ("code", "name_zh", "name_en", "food_group", "source")}
        item.update({k: Decimal(row[k]) for k in _NUMERIC})
        item["allergens"] = allergens
        result.append(item)
    return result


@transaction.atomic
def food_table_sync(*, path: Path = FOOD_TABLE) -> int:
    """Load or refresh the food composition table from the bundled CSV; idempotent."""
    rows = read_food_table(path)
    existing = {i.code: i for i in Ingredient.objects.all()}
    new, changed = [], []
    for row in rows:
        current = existing.get(row["code"])
        if current is None:
            new.append(Ingredient(**row))
            continue
        if any(getattr(current, k) != v for k, v in row.items()):
            for k, v in row.items():
                setattr(current, k, v)
            changed.append(current)
    Ingredient.objects.bulk_create(new)
    if changed:
        Ingredient.objects.bulk_update(changed, [k for k in rows[0] if k != "code"])
    return len(new) + len(changed)


# ---------------------------------------------------------------- dishes and recipes


def derive_allergens(ingredients: Iterable[Ingredient]) -> list[str]:
    """The union of the ingredients' allergen groups, in the canonical order."""
    found = {a for ingredient in ingredients for a in ingredient.allergens}
    return [a for a in _ALLERGEN_ORDER if a in found]


def derive_diet_tags(ingredients: Iterable[Ingredient]) -> list[str]:
    ingredients = list(ingredients)
    tags = []
    if not any(i.food_group in (FoodGroup.MEAT, FoodGroup.AQUATIC) for i in ingredients):
        tags.append("vegetarian")
    # Pork-free is necessary, not sufficient, for halal: the set meal's diet says halal.
    if not any(i.name_en.lower().startswith("pork") for i in ingredients):
        tags.append("pork_free")
    return tags


def _parse_recipe(recipe: Mapping[str, Decimal | int | str]) -> dict[str, Decimal]:
    parsed: dict[str, Decimal] = {}
    for code, grams in recipe.items():
        if isinstance(grams, float):
            grams = str(grams)
        try:
            value = Decimal(str(grams))
        except InvalidOperation as exc:
            raise InvalidRecipe(details={"ingredient": code, "grams": str(grams)}) from exc
        if value <= 0 or value > 2000:
            raise InvalidRecipe(details={"ingredient": code, "grams": str(grams)})
        parsed[code] = value
    if not parsed:
        raise InvalidRecipe(details={"recipe": "empty"})
    return parsed


def _procurement_items_for(*, district_id, ingredients: Sequence[Ingredient]) -> dict[str, Any]:
    """food code → procurement catalogue item of the district (by food code, else by name)."""
    try:
        from canteen.procurement.models import Item
    except ImportError:  # procurement not installed: recipes keep only the food code
        return {}
    codes = [i.code for i in ingredients]
    names = {i.name_zh: i.code for i in ingredients}
    found: dict[str, Any] = {}
    rows = Item.objects.filter(district_id=district_id, is_active=True).filter(
        Q(food_code__in=codes) | Q(name__in=list(names))
    )
    for item in rows:
        code = item.food_code if item.food_code in codes else names.get(item.name)
        if code and (code not in found or item.food_code == code):
            found[code] = item
    return found


@transaction.atomic
def dish_set_recipe(*, actor: Any, dish: Dish, recipe: Mapping[str, Decimal | int | str]) -> Dish:
    """Replace a dish's recipe ({food code: grams per portion}); derive allergens and diet tags
    and link each line to the district's procurement item when one matches."""
    parsed = _parse_recipe(recipe)
    ingredients = {i.code: i for i in Ingredient.objects.filter(code__in=list(parsed))}
    missing = sorted(set(parsed) - set(ingredients))
    if missing:
        raise UnknownIngredient(details={"codes": missing})
    before = {line.ingredient.code: str(line.grams) for line in dish.lines.select_related("ingredient")}
    items = _procurement_items_for(district_id=dish.school.district_id, ingredients=list(ingredients.values()))
    dish.lines.all().delete()
    RecipeLine.objects.bulk_create(
        [
            RecipeLine(dish=dish, ingredient=ingredients[code], grams=grams, procurement_item=items.get(code))
            for code, grams in parsed.items()
        ]
    )
    dish.allergens = derive_allergens(ingredients.values())
    dish.diet_tags = derive_diet_tags(ingredients.values())
    dish.save(update_fields=["allergens", "diet_tags", "updated_at"])
    audit_record(
        actor=actor,
        action="meals.dish_recipe_set",
        target=dish,
        before={"recipe": before},
        after={"recipe": {c: str(g) for c, g in parsed.items()}, "allergens": dish.allergens},
        district_id=dish.school.district_id,
        school_id=dish.school_id,
    )
    meals_cache.bump()
    return dish


@transaction.atomic
def dish_create(
    *,
    actor: Any,
    school: School,
    name: str,
    recipe: Mapping[str, Decimal | int | str],
    name_en: str = "",
) -> Dish:
    dish = Dish.objects.create(school=school, name=name.strip(), name_en=name_en.strip())
    dish_set_recipe(actor=actor, dish=dish, recipe=recipe)
    audit_record(
        actor=actor, action="meals.dish_created", target=dish, district_id=school.district_id, school_id=school.id
    )
    return dish


@transaction.atomic
def dish_link_procurement_items(*, dish: Dish) -> int:
    """Link recipe lines to catalogue items that appeared since the recipe was written."""
    lines = list(dish.lines.select_related("ingredient").filter(procurement_item__isnull=True))
    items = _procurement_items_for(district_id=dish.school.district_id, ingredients=[ln.ingredient for ln in lines])
    linked = 0
    for line in lines:
        item = items.get(line.ingredient.code)
        if item is not None:
            line.procurement_item = item
            line.save(update_fields=["procurement_item", "updated_at"])
            linked += 1
    return linked


def dish_set_photo(*, dish: Dish, filename: str, content: bytes) -> Dish:
    from django.core.files.base import ContentFile

    if dish.photo:
        dish.photo.delete(save=False)
    dish.photo.save(filename, ContentFile(content), save=True)
    meals_cache.bump()
    return dish


# ---------------------------------------------------------------- sessions and set meals


@transaction.atomic
def meal_session_set(
    *,
    actor: Any,
    campus: Campus,
    kind: str,
    serve_start: time,
    serve_end: time,
    allows_second_meal: bool = False,
    active: bool = True,
) -> MealSession:
    """Create or change a campus's session of this kind; sessions may not overlap."""
    if kind not in SessionKind.values or serve_end <= serve_start:
        raise InvalidSession(details={"kind": kind})
    others = MealSession.objects.select_for_update().filter(campus=campus, active=True).exclude(kind=kind)
    for other in others:
        if serve_start < other.serve_end and other.serve_start < serve_end:
            raise InvalidSession(details={"overlaps": other.kind})
    session, created = MealSession.objects.update_or_create(
        campus=campus,
        kind=kind,
        defaults={
            "serve_start": serve_start,
            "serve_end": serve_end,
            "allows_second_meal": allows_second_meal,
            "active": active,
        },
    )
    audit_record(
        actor=actor,
        action="meals.session_created" if created else "meals.session_changed",
        target=session,
        after={"kind": kind, "start": str(serve_start), "end": str(serve_end), "second": allows_second_meal},
        district_id=campus.school.district_id,
        school_id=campus.school_id,
    )
    meals_cache.bump()
    return session


@transaction.atomic
def set_meal_create(
    *,
    actor: Any,
    campus: Campus,
    name: str,
    price: Money,
    dishes: Sequence[Dish] = (),
    diet: str = Diet.STANDARD,
    canteen: Canteen | None = None,
    is_default: bool = False,
) -> SetMeal:
    if not isinstance(price, Money) or price.fen < 0:
        raise WrongCampus("价格无效", "Invalid price", code="meals_invalid_price")
    if canteen is not None and canteen.campus_id != campus.id:
        raise WrongCampus(details={"canteen": str(canteen.id)})
    for dish in dishes:
        if dish.school_id != campus.school_id:
            raise WrongCampus(details={"dish": str(dish.id)})
    if SetMeal.objects.filter(campus=campus, name=name.strip()).exists():
        raise Conflict(
            "该校区已有同名套餐", "This campus already has a set meal of that name", code="meals_set_meal_exists"
        )
    if is_default:
        SetMeal.objects.filter(campus=campus, is_default=True).update(is_default=False)
    set_meal = SetMeal.objects.create(
        campus=campus, canteen=canteen, name=name.strip(), price_fen=price.fen, diet=diet, is_default=is_default
    )
    set_meal.dishes.set(dishes)
    audit_record(
        actor=actor,
        action="meals.set_meal_created",
        target=set_meal,
        after={"name": set_meal.name, "price_fen": price.fen, "diet": diet},
        district_id=campus.school.district_id,
        school_id=campus.school_id,
    )
    meals_cache.bump()
    return set_meal


@transaction.atomic
def set_meal_set_price(*, actor: Any, set_meal: SetMeal, price: Money) -> SetMeal:
    before = set_meal.price_fen
    set_meal.price_fen = price.fen
    set_meal.save(update_fields=["price_fen", "updated_at"])
    audit_record(
        actor=actor,
        action="meals.set_meal_price_changed",
        target=set_meal,
        before={"price_fen": before},
        after={"price_fen": price.fen},
        district_id=set_meal.campus.school.district_id,
        school_id=set_meal.campus.school_id,
    )
    meals_cache.bump()
    return set_meal


# ---------------------------------------------------------------- menus


def menu_snapshot(menu: Menu) -> dict:
    """What was on the menu: {set meal name: {price_fen, dishes: [names]}} (stable order)."""
    data: dict[str, dict] = {}
    for entry in menu.entries.select_related("set_meal", "dish").order_by("set_meal__name", "position"):
        item = data.setdefault(entry.set_meal.name, {"price_fen": entry.set_meal.price_fen, "dishes": []})
        item["dishes"].append(entry.dish.name)
    return data


def _diff(before: dict, after: dict) -> dict:
    changes: dict[str, dict] = {}
    for name in sorted(set(before) | set(after)):
        old = before.get(name, {}).get("dishes", [])
        new = after.get(name, {}).get("dishes", [])
        added = [d for d in new if d not in old]
        removed = [d for d in old if d not in new]
        if added or removed or (name in before) != (name in after):
            changes[name] = {"added": added, "removed": removed}
    return changes


def _org_payload(campus: Campus) -> dict:
    return {
        "campus_id": str(campus.id),
        "school_id": str(campus.school_id),
        "district_id": str(campus.school.district_id),
    }


@transaction.atomic
def menu_set_entries(
    *,
    actor: Any,
    campus: Campus,
    session: MealSession,
    day: date,
    entries: Mapping[SetMeal, Sequence[Dish]],
    reason: str = "",
) -> Menu:
    """Set what a session serves on a day: {set meal: [dishes]}. On a published menu this is a
    change after publishing: it needs a reason, makes a new version and is announced again."""
    if session.campus_id != campus.id:
        raise WrongCampus(details={"session": str(session.id)})
    for set_meal, dishes in entries.items():
        if set_meal.campus_id != campus.id:
            raise WrongCampus(details={"set_meal": str(set_meal.id)})
        for dish in dishes:
            if dish.school_id != campus.school_id:
                raise WrongCampus(details={"dish": str(dish.id)})
    menu, _ = Menu.objects.get_or_create(campus=campus, session=session, day=day)
    menu = Menu.objects.select_for_update().get(pk=menu.pk)
    before = menu_snapshot(menu)
    is_published = menu.status == MenuStatus.PUBLISHED
    if is_published and not reason.strip():
        raise ChangeReasonRequired()
    menu.entries.all().delete()
    MenuEntry.objects.bulk_create(
        [
            MenuEntry(menu=menu, set_meal=set_meal, dish=dish, position=position)
            for set_meal, dishes in entries.items()
            for position, dish in enumerate(dict.fromkeys(dishes))
        ]
    )
    after = menu_snapshot(menu)
    changes = _diff(before, after)
    if is_published and changes:
        if not after:
            raise EmptyMenu()
        menu.version += 1
        menu.save(update_fields=["version", "updated_at"])
        MenuVersion.objects.create(
            menu=menu,
            version=menu.version,
            snapshot=after,
            changes=changes,
            reason=reason.strip()[:200],
            actor_label=getattr(actor, "username", "") or "system",
            is_change_after_publish=True,
        )
        audit_record(
            actor=actor,
            action="meals.menu_changed_after_publish",
            target=menu,
            before=before,
            after={"menu": after, "reason": reason.strip()},
            district_id=campus.school.district_id,
            school_id=campus.school_id,
        )
        publish(
            "meals.menu_published",
            {
                **_org_payload(campus),
                "menu_id": str(menu.id),
                "day": day.isoformat(),
                "session_kind": session.kind,
                "version": menu.version,
                "change_after_publish": True,
                "reason": reason.strip(),
                "changes": changes,
            },
        )
        nutrition_check_run(campus=campus, day=day)
    elif not is_published:
        audit_record(
            actor=actor,
            action="meals.menu_drafted",
            target=menu,
            after=after,
            district_id=campus.school.district_id,
            school_id=campus.school_id,
        )
    meals_cache.bump()
    return menu


@transaction.atomic
def menu_publish(*, actor: Any, menu: Menu) -> Menu:
    """Publish a draft menu as version 1 (publishing again is a no-op: changes after publishing
    go through menu_set_entries with a reason)."""
    menu = Menu.objects.select_for_update().select_related("campus__school", "session").get(pk=menu.pk)
    if menu.status == MenuStatus.PUBLISHED:
        return menu
    snapshot = menu_snapshot(menu)
    if not snapshot:
        raise EmptyMenu()
    menu.status = MenuStatus.PUBLISHED
    menu.version = 1
    menu.published_at = timezone.now()
    menu.save(update_fields=["status", "version", "published_at", "updated_at"])
    MenuVersion.objects.create(
        menu=menu, version=1, snapshot=snapshot, actor_label=getattr(actor, "username", "") or "system"
    )
    campus = menu.campus
    audit_record(
        actor=actor,
        action="meals.menu_published",
        target=menu,
        after=snapshot,
        district_id=campus.school.district_id,
        school_id=campus.school_id,
    )
    publish(
        "meals.menu_published",
        {
            **_org_payload(campus),
            "menu_id": str(menu.id),
            "day": menu.day.isoformat(),
            "session_kind": menu.session.kind,
            "version": 1,
            "change_after_publish": False,
        },
    )
    nutrition_check_run(campus=campus, day=menu.day)
    meals_cache.bump()
    return menu


def menu_publish_week(*, actor: Any, campus: Campus, start: date, days: int = 7) -> int:
    """Publish every draft menu of a campus from `start` for `days` days; returns how many."""
    count = 0
    for menu in Menu.objects.filter(
        campus=campus, day__gte=start, day__lt=start + timedelta(days=days), status=MenuStatus.DRAFT
    ):
        menu_publish(actor=actor, menu=menu)
        count += 1
    return count


def nutrition_check_run(*, campus: Campus, day: date):
    """Check a campus-day's published menus against WS/T 554-2017, store and announce it."""
    from .nutrition_checks import nutrition_check_day

    return nutrition_check_day(campus=campus, day=day)


# ---------------------------------------------------------------- meal plans


@transaction.atomic
def meal_plan_set(
    *,
    actor: Any,
    student: Student,
    choices: Mapping[str, SetMeal | None] | None = None,
    diet: str | None = None,
    diet_notes: str | None = None,
) -> MealPlan:
    """Set a student's diet and, per session kind, the set meal taken by default (None: the
    student does not eat that session)."""
    plan, _ = MealPlan.objects.select_for_update().get_or_create(student=student)
    before = {"diet": plan.diet, "choices": {c.session_kind: str(c.set_meal_id) for c in plan.choices.all()}}
    if diet is not None:
        if diet not in Diet.values:
            raise WrongCampus("饮食类型无效", "Unknown diet", code="meals_invalid_diet")
        plan.diet = diet
    if diet_notes is not None:
        plan.diet_notes = diet_notes[:200]
    plan.save()
    for kind, set_meal in (choices or {}).items():
        if kind not in SessionKind.values:
            raise InvalidSession(details={"kind": kind})
        if set_meal is not None and set_meal.campus_id != student.campus_id:
            raise WrongCampus(details={"set_meal": str(set_meal.id)})
        MealPlanChoice.objects.update_or_create(
            plan=plan, session_kind=kind, defaults={"set_meal": set_meal, "enrolled": set_meal is not None}
        )
    audit_record(
        actor=actor,
        action="meals.meal_plan_set",
        target=plan,
        before=before,
        after={"diet": plan.diet, "choices": {k: str(v.id) if v else None for k, v in (choices or {}).items()}},
        district_id=student.campus.school.district_id,
        school_id=student.campus.school_id,
    )
    return plan


@transaction.atomic
def meal_opt_out_create(
    *, actor: Any, student: Student, start: date, end: date, session_kind: str = "", reason: str = ""
) -> MealOptOut:
    if end < start or (session_kind and session_kind not in SessionKind.values):
        raise InvalidSession(
            "停餐日期或时段有误", "Invalid opt-out dates or session", details={"start": str(start), "end": str(end)}
        )
    opt_out = MealOptOut.objects.create(
        student=student, start=start, end=end, session_kind=session_kind, reason=reason[:120]
    )
    audit_record(
        actor=actor,
        action="meals.opt_out_created",
        target=opt_out,
        after={"start": str(start), "end": str(end), "session_kind": session_kind, "reason": reason},
        district_id=student.campus.school.district_id,
        school_id=student.campus.school_id,
    )
    return opt_out


# ---------------------------------------------------------------- served counts, boards


@transaction.atomic
def served_count_record(
    *, actor: Any, campus: Campus, day: date, session_kind: str, set_meal: SetMeal, served: int, planned: int = 0
) -> ServedCount:
    """Record how many of a set meal were served (paper-ticket campuses; idempotent per day)."""
    if served < 0 or planned < 0 or set_meal.campus_id != campus.id:
        raise WrongCampus("份数无效", "Invalid count", code="meals_invalid_count")
    row, _ = ServedCount.objects.update_or_create(
        campus=campus,
        day=day,
        session_kind=session_kind,
        set_meal=set_meal,
        defaults={"served": served, "planned": planned},
    )
    return row


def menu_board_ensure(*, canteen: Canteen) -> MenuBoard:
    board, _ = MenuBoard.objects.get_or_create(canteen=canteen)
    return board


@transaction.atomic
def menu_board_rotate(*, actor: Any, canteen: Canteen) -> MenuBoard:
    """Give the board a new address (the old one stops working at once)."""
    from .models import _board_token

    board = menu_board_ensure(canteen=canteen)
    board.token = _board_token()
    board.save(update_fields=["token", "updated_at"])
    audit_record(
        actor=actor,
        action="meals.board_token_rotated",
        target=board,
        district_id=canteen.campus.school.district_id,
        school_id=canteen.campus.school_id,
    )
    return board


def dish_generate_photo(*, dish: Dish) -> Dish:
    """Draw a simple picture of the dish from its recipe (demo; real canteens upload photos)."""
    from .photos import colour_parts, render_dish_photo

    lines = [(line.ingredient, line.grams) for line in dish.lines.select_related("ingredient")]
    content = render_dish_photo(dish.name, colour_parts(lines))
    return dish_set_photo(dish=dish, filename=f"dish-{dish.id}.jpg", content=content)


@transaction.atomic
def menu_copy_week(*, actor: Any, campus: Campus, source_monday: date, target_monday: date) -> int:
    """Draft next week's menus from a past week (same weekday and session): a canteen repeats a
    good week and edits it. Days that already have a menu are left alone. Returns how many."""
    copied = 0
    existing = set(
        Menu.objects.filter(
            campus=campus, day__gte=target_monday, day__lt=target_monday + timedelta(days=7)
        ).values_list("session_id", "day")
    )
    for menu in Menu.objects.filter(
        campus=campus, day__gte=source_monday, day__lt=source_monday + timedelta(days=7)
    ).select_related("session"):
        day = target_monday + (menu.day - source_monday)
        if (menu.session_id, day) in existing:
            continue
        entries: dict[SetMeal, list[Dish]] = {}
        for entry in menu.entries.select_related("set_meal", "dish").order_by("set_meal__name", "position"):
            entries.setdefault(entry.set_meal, []).append(entry.dish)
        menu_set_entries(actor=actor, campus=campus, session=menu.session, day=day, entries=entries)
        copied += 1
    return copied


def menu_start_draft(*, actor: Any, campus: Campus, session: MealSession, day: date) -> Menu:
    """A new draft for a session-day, holding each active set meal's default dishes."""
    existing = Menu.objects.filter(campus=campus, session=session, day=day).first()
    if existing is not None:
        return existing
    entries = {
        sm: list(sm.dishes.all())
        for sm in SetMeal.objects.filter(campus=campus, active=True).prefetch_related("dishes")
        if sm.dishes.exists()
    }
    return menu_set_entries(actor=actor, campus=campus, session=session, day=day, entries=entries)
