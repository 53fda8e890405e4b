"""Meals demo data: a dish library per school (with recipes from the bundled food table and
generated photos), sessions per campus (lunch everywhere; breakfast and dinner at boarding
campuses: junior and nine-year schools), set meals (标准套餐A ¥6.00, 套餐B ¥7.00, and 清真套餐 at
some campuses), this week's published menus (Mon–Fri) with their nutrition checks, next week's
drafts, meal plans for every student, recent served counts for the forecast, and a menu board
per canteen. Bulk writes of this app's own tables keep it fast; events and checks go through
the same code as the services."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.events import publish
from canteen.org.choices import SchoolStage, StudentStatus
from canteen.org.models import Campus, Student

from . import services
from .choices import Diet, FoodGroup, MenuStatus, SessionKind
from .models import (
    Dish,
    Ingredient,
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
from .nutrition_checks import campus_age_group, nutrition_check_day
from .photos import colour_parts, render_dish_photo

# name: {food code: grams per portion, raw edible weight}
DISHES: dict[str, dict[str, str | int]] = {
    # staples
    "米饭": {"SR20450": 100},
    "二米饭": {"SR20450": 85, "SR20031": 15},
    "馒头": {"SR20081": 70},
    "花卷": {"SR20081": 60, "SR04582": 4, "SR11291": 5, "SR02047": "0.3"},
    "肉包子": {"SR20081": 60, "SR10219": 20, "SR11119": 30, "SR16124": 2},
    "小米粥": {"SR20031": 20},
    "玉米": {"SR11167": 120},
    "鸡蛋面": {"SR20120": 80, "SR01123": 20, "SR11116": 80, "SR10060": 10, "SR04582": 6, "SR02047": "0.6"},
    # mains (meat, fish, eggs, soy)
    "青椒肉丝": {"SR10060": 40, "SR11333": 70, "SR04582": 7, "SR02047": "0.4", "SR16124": 2},
    "红烧鸡腿": {"SR05075": 55, "SR04582": 8, "SR16124": 3, "SR19335": 3, "SR11216": 2},
    "土豆烧牛肉": {"SR13364": 40, "SR11352": 60, "SR04582": 9, "SR02047": "0.4", "SR16124": 2},
    "清蒸鱼": {"SR15261": 45, "SR11216": 2, "SR04582": 8, "SR16124": 3},
    "番茄炒蛋": {"SR11529": 90, "SR01123": 45, "SR04582": 9, "SR02047": "0.4", "SR19335": 3},
    "宫保鸡丁": {
        "SR05062": 32,
        "SR16087": 8,
        "SR11205": 40,
        "SR11124": 20,
        "SR04582": 7,
        "SR16124": 3,
        "SR02047": "0.2",
    },
    "鱼香肉丝": {
        "SR10060": 35,
        "SR11124": 30,
        "SR11950": 15,
        "SR11333": 30,
        "SR04582": 7,
        "SR16124": 3,
        "SR19335": 3,
        "SR02048": 3,
        "SR02047": "0.2",
    },
    "虾仁炒蛋": {"SR15149": 25, "SR01123": 40, "SR04582": 9, "SR02047": "0.4", "SR11291": 5},
    "麻婆豆腐": {"SR16126": 80, "SR10219": 15, "SR04582": 8, "SR16124": 3, "SR02009": 1},
    "红烧排骨": {"SR10089": 50, "SR04582": 4, "SR16124": 3, "SR19335": 3},
    "咖喱鸡块": {"SR05075": 45, "SR11352": 50, "SR11124": 25, "SR04582": 9, "SR02047": "0.5"},
    # vegetables
    "清炒小白菜": {"SR11116": 150, "SR04582": 8, "SR02047": "0.4", "SR11215": 3},
    "蒜蓉西兰花": {"SR11090": 130, "SR04582": 8, "SR02047": "0.4", "SR11215": 4},
    "醋溜白菜": {"SR11119": 150, "SR04582": 8, "SR02048": 5, "SR02047": "0.4"},
    "清炒豆芽": {"SR11043": 130, "SR04582": 8, "SR02047": "0.4"},
    "炒冬瓜": {"SR11591": 150, "SR04582": 8, "SR02047": "0.4"},
    "胡萝卜炒包菜": {"SR11109": 120, "SR11124": 30, "SR04582": 8, "SR02047": "0.4"},
    "凉拌黄瓜": {"SR11205": 120, "SR04058": 4, "SR02048": 4, "SR02047": "0.3", "SR11215": 3},
    "蒸南瓜": {"SR11422": 120},
    "香菇青菜": {"SR11116": 120, "SR11238": 30, "SR04582": 8, "SR02047": "0.4"},
    # soups, fruit, milk
    "番茄蛋汤": {"SR11529": 40, "SR01123": 10, "SR02047": "0.3"},
    "冬瓜海带汤": {"SR11591": 60, "SR11445": 15, "SR02047": "0.3"},
    "豆腐青菜汤": {"SR16126": 25, "SR11116": 40, "SR02047": "0.3"},
    "苹果": {"SR09003": 100},
    "香蕉": {"SR09040": 100},
    "橘子": {"SR09218": 100},
    "牛奶": {"SR01077": 200},
    "酸奶": {"SR01116": 100},
    "豆浆": {"SR16120": 200},
    "鸡蛋": {"SR01123": 50},
    "核桃仁": {"SR12155": 10},
    "葱油饼": {"SR20081": 60, "SR04582": 8, "SR11291": 5, "SR02047": "0.3"},
    "鸡蛋饼": {"SR20081": 50, "SR01123": 30, "SR04582": 6, "SR11291": 5, "SR02047": "0.3"},
}

STAPLES = ["米饭", "二米饭", "米饭", "二米饭", "米饭"]
MAIN_A = ["红烧鸡腿", "青椒肉丝", "清蒸鱼", "宫保鸡丁", "鱼香肉丝"]
MAIN_B = ["土豆烧牛肉", "番茄炒蛋", "麻婆豆腐", "红烧排骨", "虾仁炒蛋"]
MAIN_HALAL = ["红烧鸡腿", "土豆烧牛肉", "清蒸鱼", "咖喱鸡块", "番茄炒蛋"]
VEG_A = ["清炒小白菜", "蒜蓉西兰花", "醋溜白菜", "香菇青菜", "胡萝卜炒包菜"]
VEG_B = ["清炒豆芽", "炒冬瓜", "凉拌黄瓜", "香菇青菜", "清炒小白菜"]
SOUPS = ["番茄蛋汤", "冬瓜海带汤", "豆腐青菜汤", "冬瓜海带汤", "番茄蛋汤"]
FRUIT = ["苹果", "香蕉", "香蕉", "苹果", "橘子"]
BREAKFAST = [
    ["小米粥", "肉包子", "酸奶", "香蕉"],
    ["豆浆", "花卷", "鸡蛋", "苹果"],
    ["小米粥", "花卷", "鸡蛋", "酸奶"],
    ["豆浆", "肉包子", "玉米"],
    ["小米粥", "花卷", "鸡蛋", "橘子"],
]
DINNER_MAIN = ["咖喱鸡块", "红烧排骨", "番茄炒蛋", "青椒肉丝", "土豆烧牛肉"]

SESSIONS = {
    SessionKind.BREAKFAST: (time(6, 50), time(7, 40), False),
    SessionKind.LUNCH: (time(11, 40), time(13, 0), True),
    SessionKind.DINNER: (time(17, 20), time(18, 20), True),
}
BOARDING_STAGES = {SchoolStage.JUNIOR, SchoolStage.NINE_YEAR}


def _allergens_and_tags(codes: list[str], ingredients: dict[str, Ingredient]) -> tuple[list[str], list[str]]:
    used = [ingredients[c] for c in codes]
    return services.derive_allergens(used), services.derive_diet_tags(used)


def _photos(ingredients: dict[str, Ingredient]) -> dict[str, str]:
    """Dish name → stored photo path, one picture per dish name shared by every school."""
    names = {}
    for name, recipe in DISHES.items():
        path = f"meals/dishes/demo-{list(DISHES).index(name):03d}.jpg"
        if not default_storage.exists(path):
            lines = [(ingredients[c], Decimal(str(g))) for c, g in recipe.items()]
            default_storage.save(path, ContentFile(render_dish_photo(name, colour_parts(lines))))
        names[name] = path
    return names


@transaction.atomic
def seed(ctx) -> None:
    services.food_table_sync()
    ingredients = {i.code: i for i in Ingredient.objects.all()}
    photos = _photos(ingredients)
    today = ctx.today
    monday = today - timedelta(days=today.weekday())
    campuses = list(Campus.objects.filter(id__in=[c.id for c in ctx.campuses]).select_related("school__district"))
    schools = {c.school_id: c.school for c in campuses}

    # Dish library per school.
    dishes, lines = [], []
    by_school: dict = {}
    factors: dict = {}
    groups = {campus.id: campus_age_group(campus=campus, day=monday) for campus in campuses}
    school_groups = {campus.school_id: groups[campus.id] for campus in reversed(campuses)}
    for school in ctx.progress(schools.values(), desc="菜品 dishes"):
        # Older pupils get bigger portions (带量 by age): 12–14-year-olds need ~10–15 % more energy
        # than 9–11-year-olds (WS/T 554-2017 Table 1); the school's first campus decides.
        older = school_groups.get(school.id) in ("12-14", "15-17")
        factor = factors[school.id] = Decimal("1.1") if older else Decimal(1)
        for name, recipe in DISHES.items():
            allergens, tags = _allergens_and_tags(list(recipe), ingredients)
            dish = Dish(school=school, name=name, allergens=allergens, diet_tags=tags, photo=photos[name])
            dishes.append(dish)
            by_school.setdefault(school.id, {})[name] = dish
            lines += [
                RecipeLine(dish=dish, ingredient=ingredients[c], grams=_portion(ingredients[c], g, factor))
                for c, g in recipe.items()
            ]
    Dish.objects.bulk_create(dishes, batch_size=1000)
    RecipeLine.objects.bulk_create(lines, batch_size=2000)
    # Link recipe lines to the district's catalogue items (procurement seeds before us).
    _link_catalogue(schools)

    # Sessions, set meals, boards.
    sessions, set_meals, boards = [], [], []
    campus_sessions: dict = {}
    campus_set_meals: dict = {}
    for index, campus in enumerate(campuses):
        boarding = campus.school.stage in BOARDING_STAGES
        kinds = [SessionKind.BREAKFAST, SessionKind.LUNCH, SessionKind.DINNER] if boarding else [SessionKind.LUNCH]
        for kind in kinds:
            start, end, second = SESSIONS[kind]
            session = MealSession(campus=campus, kind=kind, serve_start=start, serve_end=end, allows_second_meal=second)
            sessions.append(session)
            campus_sessions.setdefault(campus.id, {})[kind] = session
        canteen = campus.canteens.first()
        own = {
            "A": SetMeal(campus=campus, canteen=canteen, name="标准套餐A", price_fen=600, is_default=True),
            "B": SetMeal(campus=campus, canteen=canteen, name="套餐B", price_fen=700),
        }
        if index % 3 == 0:
            own["H"] = SetMeal(campus=campus, canteen=canteen, name="清真套餐", price_fen=650, diet=Diet.HALAL)
        set_meals += own.values()
        campus_set_meals[campus.id] = own
        if canteen is not None:
            boards.append(MenuBoard(canteen=canteen))
    MealSession.objects.bulk_create(sessions)
    SetMeal.objects.bulk_create(set_meals)
    MenuBoard.objects.bulk_create(boards)

    # This week's menus (published) and next week's (drafts), Monday to Friday.
    menus, entries, versions = [], [], []
    published_days: list[tuple] = []
    planner = _Planner(ingredients)
    for index, campus in enumerate(ctx.progress(campuses, desc="菜单 menus")):
        school_dishes = by_school[campus.school_id]
        own = campus_set_meals[campus.id]
        for week, status in ((0, MenuStatus.PUBLISHED), (7, MenuStatus.DRAFT)):
            for wd in range(5):
                day = monday + timedelta(days=week + wd)
                for kind, session in campus_sessions[campus.id].items():
                    if index % 5 == 1 and wd == 4:
                        # Friday's treat at some campuses: as rotated, flags and all.
                        plan = _day_plan(kind, wd, own)
                    else:
                        plan = planner.day(kind, wd, own, groups[campus.id], factors[campus.school_id])
                    menu = Menu(
                        campus=campus,
                        session=session,
                        day=day,
                        status=status,
                        version=1 if status == MenuStatus.PUBLISHED else 0,
                        published_at=timezone.now() if status == MenuStatus.PUBLISHED else None,
                    )
                    menus.append(menu)
                    snapshot = {}
                    for key, names in plan.items():
                        set_meal = own[key]
                        entries += [
                            MenuEntry(menu=menu, set_meal=set_meal, dish=school_dishes[n], position=p)
                            for p, n in enumerate(names)
                        ]
                        snapshot[set_meal.name] = {"price_fen": set_meal.price_fen, "dishes": names}
                    if status == MenuStatus.PUBLISHED:
                        versions.append(MenuVersion(menu=menu, version=1, snapshot=snapshot, actor_label="demo"))
                if status == MenuStatus.PUBLISHED:
                    published_days.append((campus, day))
    Menu.objects.bulk_create(menus, batch_size=1000)
    MenuEntry.objects.bulk_create(entries, batch_size=2000)
    MenuVersion.objects.bulk_create(versions, batch_size=1000)
    for menu in menus:
        if menu.status == MenuStatus.PUBLISHED:
            campus = menu.campus
            publish(
                "meals.menu_published",
                {
                    "campus_id": str(campus.id),
                    "school_id": str(campus.school_id),
                    "district_id": str(campus.school.district_id),
                    "menu_id": str(menu.id),
                    "day": menu.day.isoformat(),
                    "session_kind": menu.session.kind,
                    "version": 1,
                    "change_after_publish": False,
                },
            )
    for campus, day in ctx.progress(published_days, desc="营养核对 nutrition checks"):
        nutrition_check_day(campus=campus, day=day, group=groups[campus.id])

    _seed_plans(ctx, campuses, campus_sessions, campus_set_meals)
    _seed_served_counts(ctx, campuses, campus_set_meals, monday)
    audit_record(
        actor=None,
        action="meals.demo_seeded",
        target_type="meals.demo",
        target_id="demo",
        after={"campuses": len(campuses), "dishes": len(dishes), "menus": len(menus)},
    )


def _portion(ingredient: Ingredient, grams, factor: Decimal) -> Decimal:
    """Bigger portions for older pupils, but not more salt or seasoning."""
    if ingredient.food_group in (FoodGroup.SALT, FoodGroup.CONDIMENT):
        factor = Decimal(1)
    return (Decimal(str(grams)) * factor).quantize(Decimal("0.1"))


def _day_plan(kind: str, wd: int, own: dict) -> dict[str, list[str]]:
    if kind == SessionKind.BREAKFAST:
        return {"A": BREAKFAST[wd]}
    if kind == SessionKind.DINNER:
        return {
            "A": [STAPLES[(wd + 1) % 5], DINNER_MAIN[wd], VEG_B[(wd + 2) % 5], SOUPS[(wd + 1) % 5]],
            "B": ["鸡蛋面", VEG_A[(wd + 3) % 5], FRUIT[(wd + 2) % 5]],
        }
    plan = {
        "A": [STAPLES[wd], MAIN_A[wd], VEG_A[wd], SOUPS[wd], FRUIT[wd]],
        "B": [STAPLES[wd], MAIN_B[wd], VEG_B[wd], SOUPS[wd], FRUIT[wd]],
    }
    if "H" in own:
        plan["H"] = [STAPLES[wd], MAIN_HALAL[wd], VEG_A[wd], SOUPS[wd], FRUIT[wd]]
    return plan


class _Planner:
    """The demo's dietitian: keeps each day's main dish from the rotation and searches the
    staple, vegetable, soup and fruit (a few hundred combinations) for one whose nutrients pass
    WS/T 554-2017 for the campus's age band, nearest the rotation first. Where none passes, the
    rotation stays as it is and the check flags it, as it would a real canteen."""

    STAPLE_CHOICES = ["米饭", "二米饭", "馒头"]
    VEG_CHOICES = [
        "清炒小白菜",
        "蒜蓉西兰花",
        "醋溜白菜",
        "香菇青菜",
        "胡萝卜炒包菜",
        "清炒豆芽",
        "炒冬瓜",
        "凉拌黄瓜",
        "蒸南瓜",
    ]
    SOUP_CHOICES = ["番茄蛋汤", "冬瓜海带汤", "豆腐青菜汤"]
    FRUIT_CHOICES = ["苹果", "香蕉", "橘子", None]
    BREAKFAST_DRINK = ["小米粥", "豆浆", "牛奶"]
    BREAKFAST_BREAD = ["肉包子", "花卷", "馒头", "葱油饼", "鸡蛋饼"]
    BREAKFAST_EXTRA = ["鸡蛋", None]
    BREAKFAST_SIDE = ["苹果", "香蕉", "橘子", "酸奶", "玉米", "核桃仁", None]
    BREAKFAST_SIDE2 = [None, "核桃仁", "酸奶", "香蕉"]

    def __init__(self, ingredients: dict[str, Ingredient]) -> None:
        self.ingredients = ingredients
        self.dish_cache: dict = {}
        self.plan_cache: dict = {}

    def _dish(self, name: str, factor: Decimal):
        key = (name, factor)
        if key not in self.dish_cache:
            from .nutrition import Totals

            totals = Totals()
            for code, grams in DISHES[name].items():
                ingredient = self.ingredients[code]
                totals.add_ingredient(ingredient, _portion(ingredient, grams, factor))
            self.dish_cache[key] = totals
        return self.dish_cache[key]

    def passes(self, names: list[str], kind: str, group: str, factor: Decimal) -> bool:
        from . import guideline
        from .nutrition import Totals

        totals = Totals()
        for name in names:
            totals = totals + self._dish(name, factor)
        flags = guideline.check_meal(totals=totals.as_dict(), session_kind=kind, group=group, subject="")
        return not any(f.severity == guideline.FAIL for f in flags)

    def _search(self, rotation: list[str], candidates, kind: str, group: str, factor: Decimal) -> list[str]:
        if self.passes(rotation, kind, group, factor):
            return rotation
        for combo in candidates:
            names = [n for n in combo if n]
            if self.passes(names, kind, group, factor):
                return names
        return rotation

    def lunch(self, main: str, rotation: list[str], group: str, factor: Decimal, kind: str) -> list[str]:
        key = (kind, main, tuple(rotation), group, factor)
        if key not in self.plan_cache:
            candidates = (
                [staple, main, veg, soup, fruit]
                for staple in self.STAPLE_CHOICES
                for veg in self.VEG_CHOICES
                for soup in [*self.SOUP_CHOICES, None]
                for fruit in self.FRUIT_CHOICES
            )
            self.plan_cache[key] = self._search(rotation, candidates, kind, group, factor)
        return self.plan_cache[key]

    def breakfast(self, rotation: list[str], group: str, factor: Decimal) -> list[str]:
        key = ("breakfast", tuple(rotation), group, factor)
        if key not in self.plan_cache:
            candidates = (
                [drink, bread, extra, side, side2]
                for drink in self.BREAKFAST_DRINK
                for bread in self.BREAKFAST_BREAD
                for extra in self.BREAKFAST_EXTRA
                for side in self.BREAKFAST_SIDE
                for side2 in self.BREAKFAST_SIDE2
                if side2 is None or side2 != side
            )
            self.plan_cache[key] = self._search(rotation, candidates, SessionKind.BREAKFAST, group, factor)
        return self.plan_cache[key]

    def noodles(self, rotation: list[str], group: str, factor: Decimal) -> list[str]:
        key = ("noodles", tuple(rotation), group, factor)
        if key not in self.plan_cache:
            candidates = (
                ["鸡蛋面", veg, fruit] for veg in [*self.VEG_CHOICES, None] for fruit in ["蒸南瓜", *self.FRUIT_CHOICES]
            )
            self.plan_cache[key] = self._search(rotation, candidates, SessionKind.DINNER, group, factor)
        return self.plan_cache[key]

    def day(self, kind: str, wd: int, own: dict, group: str, factor: Decimal) -> dict[str, list[str]]:
        plan = _day_plan(kind, wd, own)
        if kind == SessionKind.BREAKFAST:
            return {"A": self.breakfast(plan["A"], group, factor)}
        if kind == SessionKind.DINNER:
            return {
                "A": self.lunch(plan["A"][1], plan["A"], group, factor, kind),
                "B": self.noodles(plan["B"], group, factor),
            }
        return {key: self.lunch(names[1], names, group, factor, kind) for key, names in plan.items()}


def _link_catalogue(schools: dict) -> None:
    """Link recipe lines to catalogue items of each district (by food code or name)."""
    by_district: dict = {}
    for school_id, school in schools.items():
        by_district.setdefault(school.district_id, []).append(school_id)
    for district_id, school_ids in by_district.items():
        used = list(Ingredient.objects.filter(recipe_lines__dish__school_id__in=school_ids).distinct())
        items = services._procurement_items_for(district_id=district_id, ingredients=used)
        for code, item in items.items():
            RecipeLine.objects.filter(dish__school_id__in=school_ids, ingredient__code=code).update(
                procurement_item=item
            )


def _seed_plans(ctx, campuses, campus_sessions, campus_set_meals) -> None:
    rng = ctx.rng
    plans, choices = [], []
    students = Student.objects.filter(campus__in=campuses, status=StudentStatus.ENROLLED).only("id", "campus_id")
    for student in students:
        own = campus_set_meals[student.campus_id]
        halal = "H" in own and rng.random() < 0.06
        plan = MealPlan(student=student, diet=Diet.HALAL if halal else Diet.STANDARD)
        plans.append(plan)
        boarder = rng.random() < 0.7
        for kind in campus_sessions[student.campus_id]:
            if kind == SessionKind.LUNCH:
                set_meal = own["H"] if halal else (own["B"] if rng.random() < 0.35 else own["A"])
                choices.append(MealPlanChoice(plan=plan, session_kind=kind, set_meal=set_meal))
            elif boarder:
                choices.append(MealPlanChoice(plan=plan, session_kind=kind, set_meal=own["A"]))
            else:  # day pupils do not eat breakfast and dinner at school
                choices.append(MealPlanChoice(plan=plan, session_kind=kind, set_meal=None, enrolled=False))
    MealPlan.objects.bulk_create(plans, batch_size=2000)
    MealPlanChoice.objects.bulk_create(choices, batch_size=4000)


def _seed_served_counts(ctx, campuses, campus_set_meals, monday) -> None:
    """Two weeks of lunch served counts before this week (paper-ticket era), for the forecast."""
    rng = ctx.rng
    planned_by_campus: dict = {}
    for campus_id, set_meal_id in MealPlanChoice.objects.filter(
        plan__student__campus__in=campuses, session_kind=SessionKind.LUNCH, enrolled=True
    ).values_list("plan__student__campus_id", "set_meal_id"):
        key = (campus_id, set_meal_id)
        planned_by_campus[key] = planned_by_campus.get(key, 0) + 1
    rows = []
    for campus in campuses:
        for back in range(1, 15):
            day = monday - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            for set_meal in campus_set_meals[campus.id].values():
                planned = planned_by_campus.get((campus.id, set_meal.id), 0)
                if not planned:
                    continue
                served = max(0, planned - rng.randint(0, max(1, planned // 12)))
                rows.append(
                    ServedCount(
                        campus=campus,
                        day=day,
                        session_kind=SessionKind.LUNCH,
                        set_meal=set_meal,
                        planned=planned,
                        served=served,
                    )
                )
    ServedCount.objects.bulk_create(rows, batch_size=2000)
