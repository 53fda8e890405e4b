"""Energy and nutrients of one day's menu, computed by hand here and by the code."""

from datetime import date
from decimal import Decimal as D

import pytest

from canteen.meals import selectors
from canteen.meals.choices import FoodGroup, SessionKind
from canteen.meals.nutrition import dish_totals
from canteen.meals.tests.factories import make_meal_setup

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 23)


def per(grams, per_100g) -> D:
    """grams of an ingredient × its value per 100 g (from food_composition.csv)."""
    return D(str(grams)) * D(str(per_100g)) / 100


# The day of a boarding pupil: breakfast and lunch of 标准套餐A (see factories.RECIPES).
# Per 100 g (USDA SR Legacy): energy kcal, protein g, fat g, carbohydrate g, sodium mg.
RICE = (365, 7.13, 0.66, 79.95, 5)
TOMATO = (18, 0.88, 0.20, 3.89, 5)
EGG = (143, 12.56, 9.51, 0.72, 142)
SOY_OIL = (884, 0, 100, 0, 0)
SALT = (0, 0, 0, 0, 38758)
SUGAR = (387, 0, 0, 99.98, 1)
PORK_LEAN = (120, 20.95, 3.51, 0, 53)
GREEN_PEPPER = (20, 0.86, 0.17, 4.64, 3)
SOY_SAUCE = (53, 8.14, 0.57, 4.93, 5493)
PAK_CHOI = (13, 1.50, 0.20, 2.18, 65)
GARLIC = (149, 6.36, 0.50, 33.06, 17)
MILLET = (378, 11.02, 4.22, 72.85, 5)
MILK = (61, 3.15, 3.25, 4.80, 43)
FLOUR = (364, 10.33, 0.98, 76.31, 2)


def by_hand(lines) -> list[D]:
    return [sum(per(grams, food[i]) for food, grams in lines) for i in range(5)]


LUNCH_A = [
    (RICE, 100),  # 米饭
    (TOMATO, 100), (EGG, 50), (SOY_OIL, 8), (SALT, 1), (SUGAR, 3),  # 番茄炒蛋
    (PORK_LEAN, 50), (GREEN_PEPPER, 80), (SOY_OIL, 8), (SALT, 1), (SOY_SAUCE, 5),  # 青椒肉丝
    (PAK_CHOI, 150), (SOY_OIL, 6), (SALT, 1), (GARLIC, 3),  # 清炒小白菜
]  # fmt: skip
BREAKFAST_A = [(MILLET, 25), (EGG, 50), (MILK, 200), (FLOUR, 60)]


def test_hand_computed_lunch_matches_the_worked_figures():
    energy, protein, fat, carbohydrate, sodium = by_hand(LUNCH_A)
    # Written out once more as a person would on paper:
    assert energy == D("365") + (D("18") + D("71.5") + D("70.72") + D("11.61")) + (
        D("60") + D("16") + D("70.72") + D("2.65")
    ) + (D("19.5") + D("53.04") + D("4.47"))
    assert energy == D("763.21")
    assert protein == D("28.3008")
    assert fat == D("29.8495")
    assert carbohydrate == D("95.4197")
    assert sodium == D("1645.33")


def test_one_days_menu_per_student_equals_the_hand_computation(world):
    setup = make_meal_setup(world.campuses[0], day=DAY, kinds=(SessionKind.BREAKFAST, SessionKind.LUNCH))
    student = world.students[0]
    totals, eaten = selectors.student_day_nutrition(student=student, day=DAY)
    assert eaten == [(SessionKind.BREAKFAST, "标准套餐A"), (SessionKind.LUNCH, "标准套餐A")]
    energy, protein, fat, carbohydrate, sodium = (
        a + b for a, b in zip(by_hand(LUNCH_A), by_hand(BREAKFAST_A), strict=True)
    )
    assert energy == D("1269.61")  # 763.21 lunch + 506.40 breakfast
    assert totals.energy_kcal == energy
    assert totals.protein_g == protein == D("49.8338")
    assert totals.fat_g == fat
    assert totals.carbohydrate_g == carbohydrate
    assert totals.sodium_mg == sodium
    assert totals.salt_g == sodium * D("2.54") / 1000
    # Food groups by weight: rice 100 + millet 25 + flour 60 cereals; eggs 50 + 50.
    assert totals.groups[FoodGroup.CEREAL] == D(185)
    assert totals.groups[FoodGroup.EGG] == D(100)
    assert totals.groups[FoodGroup.DAIRY] == D(200)
    assert totals.groups[FoodGroup.OIL] == D(22)
    # A single dish alone.
    assert dish_totals(setup.dishes["米饭"]).energy_kcal == D("365")


def test_shares_of_energy(world):
    make_meal_setup(world.campuses[0], day=DAY)
    lunch = selectors.menu_for_day(campus=world.campuses[0], day=DAY, with_nutrition=True)[0]
    a = next(sm for sm in lunch.set_meals if sm.name == "标准套餐A")
    # fat 29.8495 g × 9 / 763.21 kcal = 35.2 %; carbohydrate 95.4197 × 4 / 763.21 = 50.0 %
    assert a.nutrition["fat_pct"] == D("35.2")
    assert a.nutrition["carb_pct"] == D("50.0")
    assert a.nutrition["energy_kcal"] == D("763.2")
    assert a.nutrition["salt_g"] == D("4.18")
