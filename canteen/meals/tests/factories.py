"""Meals test data, also for other domains' tests (consumption, trace, procurement):

setup = make_meal_setup(world.campuses[0], day=date(2026, 11, 23))
setup.set_meals["A"]  # 标准套餐A ¥6.00, default; lunch 11:30–13:00 published for `day`
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from canteen.core.money import Money
from canteen.meals import services
from canteen.meals.choices import Diet, SessionKind
from canteen.meals.models import Dish, MealSession, Menu, SetMeal
from canteen.org.models import Campus

# Grams per portion (raw, edible part); codes from the bundled food table.
RECIPES = {
    "米饭": {"SR20450": 100},
    "番茄炒蛋": {"SR11529": 100, "SR01123": 50, "SR04044": 8, "SR02047": "1", "SR19335": 3},
    "青椒肉丝": {"SR10060": 50, "SR11333": 80, "SR04044": 8, "SR02047": "1", "SR16124": 5},
    "清炒小白菜": {"SR11116": 150, "SR04044": 6, "SR02047": "1", "SR11215": 3},
    "土豆烧鸡": {"SR05075": 60, "SR11352": 80, "SR04582": 6, "SR02047": "1"},
    "花生拌菠菜": {"SR11457": 100, "SR16087": 10, "SR04058": 3, "SR02047": "0.5"},
    "小米粥": {"SR20031": 25},
    "鸡蛋": {"SR01123": 50},
    "牛奶": {"SR01077": 200},
    "馒头": {"SR20081": 60},
}

SESSION_TIMES = {
    SessionKind.BREAKFAST: (time(7, 0), time(8, 0)),
    SessionKind.LUNCH: (time(11, 30), time(13, 0)),
    SessionKind.DINNER: (time(17, 30), time(18, 30)),
}

SET_MEALS = {
    # key: (name, price, diet, default, lunch dishes)
    "A": ("标准套餐A", "6.00", Diet.STANDARD, True, ["米饭", "番茄炒蛋", "青椒肉丝", "清炒小白菜"]),
    "B": ("套餐B", "7.00", Diet.STANDARD, False, ["米饭", "土豆烧鸡", "花生拌菠菜"]),
    "H": ("清真套餐", "6.50", Diet.HALAL, False, ["米饭", "番茄炒蛋", "土豆烧鸡", "清炒小白菜"]),
}
BREAKFAST = ["小米粥", "鸡蛋", "牛奶", "馒头"]


@dataclass
class MealSetup:
    campus: Campus
    sessions: dict[str, MealSession] = field(default_factory=dict)
    dishes: dict[str, Dish] = field(default_factory=dict)
    set_meals: dict[str, SetMeal] = field(default_factory=dict)
    menus: list[Menu] = field(default_factory=list)


def make_dishes(school, actor=None) -> dict[str, Dish]:
    services.food_table_sync()
    existing = {d.name: d for d in Dish.objects.filter(school=school)}
    for name, recipe in RECIPES.items():
        if name not in existing:
            existing[name] = services.dish_create(actor=actor, school=school, name=name, recipe=recipe)
    return existing


def make_meal_setup(
    campus: Campus,
    *,
    day: date | None = None,
    kinds: tuple[str, ...] = (SessionKind.LUNCH,),
    publish: bool = True,
    actor=None,
) -> MealSetup:
    setup = MealSetup(campus=campus)
    setup.dishes = make_dishes(campus.school, actor)
    for kind in kinds:
        start, end = SESSION_TIMES[kind]
        setup.sessions[kind] = services.meal_session_set(
            actor=actor, campus=campus, kind=kind, serve_start=start, serve_end=end
        )
    for key, (name, price, diet, default, dishes) in SET_MEALS.items():
        existing = SetMeal.objects.filter(campus=campus, name=name).first()
        if existing is not None:  # a second call for the same campus (another day)
            setup.set_meals[key] = existing
            continue
        setup.set_meals[key] = services.set_meal_create(
            actor=actor,
            campus=campus,
            name=name,
            price=Money.from_yuan(price),
            diet=diet,
            is_default=default,
            dishes=[setup.dishes[d] for d in dishes],
        )
    if day is not None:
        for kind, session in setup.sessions.items():
            if kind == SessionKind.BREAKFAST:
                entries = {setup.set_meals["A"]: [setup.dishes[d] for d in BREAKFAST]}
            else:
                entries = {setup.set_meals[k]: [setup.dishes[d] for d in v[4]] for k, v in SET_MEALS.items()}
            menu = services.menu_set_entries(actor=actor, campus=campus, session=session, day=day, entries=entries)
            if publish:
                menu = services.menu_publish(actor=actor, menu=menu)
            setup.menus.append(menu)
    return setup
