"""WS/T 554-2017 flags: what is out of range, for whom, and how clearly."""

from datetime import date
from decimal import Decimal as D

import pytest

from canteen.core.models import OutboxEvent
from canteen.meals import guideline, services
from canteen.meals.choices import FoodGroup, SessionKind
from canteen.meals.models import NutritionCheck
from canteen.meals.tests.factories import make_meal_setup

DAY = date(2026, 11, 23)


def totals(energy, protein, fat, carbohydrate, salt, groups=None) -> dict:
    return {
        "energy_kcal": D(energy),
        "protein_g": D(protein),
        "fat_g": D(fat),
        "carbohydrate_g": D(carbohydrate),
        "salt_g": D(salt),
        "groups": groups or {},
    }


BALANCED_LUNCH_9_11 = {
    FoodGroup.CEREAL: 120,
    FoodGroup.VEGETABLE: 140,
    FoodGroup.MEAT: 17,
    FoodGroup.AQUATIC: 17,
    FoodGroup.EGG: 19,
    FoodGroup.SOY_NUT: 13,
    FoodGroup.OIL: 9,
}


def codes(flags):
    return sorted(f.code for f in flags)


def test_targets_from_the_standard():
    assert guideline.day_target("9-11", "m") == (D(2100), D(50))
    assert guideline.day_target("12-14", "f") == (D(2100), D(60))
    assert guideline.day_target("9-11", None) == (D(2000), D(50))
    assert guideline.meal_share_mid(SessionKind.LUNCH) == D("0.375")
    assert [guideline.age_group(a) for a in (6, 8, 9, 11, 12, 14, 15, 17)] == [
        "6-8", "6-8", "9-11", "9-11", "12-14", "12-14", "15-17", "15-17",
    ]  # fmt: skip


def test_a_balanced_lunch_passes():
    # 9–11, both sexes: 2000 kcal × 37.5 % = 750 kcal; protein 50 × 37.5 % = 18.75 g.
    # fat 22 g × 9 / 750 = 26.4 %; carbohydrate 105 g × 4 / 750 = 56 %.
    flags = guideline.check_meal(
        totals=totals(750, 19, 22, 105, "1.8", BALANCED_LUNCH_9_11),
        session_kind=SessionKind.LUNCH,
        group="9-11",
        subject="套餐A",
    )
    assert flags == []


def test_energy_band_edges():
    # 90 % of 750 is 675.0 and 110 % is 825.0: both edges pass, one step beyond fails.
    def energy_flags(kcal):
        fat, carb = D(kcal) * D("0.25") / 9, D(kcal) * D("0.6") / 4
        t = totals(kcal, 19, fat, carb, 1, BALANCED_LUNCH_9_11)
        return [f.code for f in guideline.check_meal(totals=t, session_kind="lunch", group="9-11", subject="A")]

    assert energy_flags(675) == []
    assert energy_flags(825) == []
    assert energy_flags("674.9") == ["energy_low"]
    assert energy_flags("825.1") == ["energy_high"]


def test_out_of_range_lunch_gets_clear_flags_in_both_languages():
    flags = guideline.check_meal(
        totals=totals(500, 30, 25, 40, "4.2", {FoodGroup.CEREAL: 60, FoodGroup.OIL: 25}),
        session_kind=SessionKind.LUNCH,
        group="9-11",
        subject="套餐B",
    )
    assert codes([f for f in flags if f.severity == guideline.FAIL]) == [
        "carb_pct_low",  # 40 × 4 / 500 = 32 %
        "energy_low",  # 500 < 675
        "fat_pct_high",  # 25 × 9 / 500 = 45 %
        "protein_high",  # 30 > 22.5
        "salt_high",  # 4.2 > 5 g × 40 %
    ]
    energy = next(f for f in flags if f.code == "energy_low")
    assert (energy.value, energy.low, energy.high) == (D("500.0"), D("675.0"), D("825.0"))
    assert energy.message_zh == "套餐B：能量偏低（500.0 kcal，目标 675.0–825.0）"
    assert energy.message_en == "套餐B: energy too low (500.0 kcal; target 675.0–825.0)"
    salt = next(f for f in flags if f.code == "salt_high")
    assert salt.high == D("2.0")
    warnings = codes([f for f in flags if f.severity == guideline.WARN])
    assert "group_cereal_low" in warnings  # 60 g < 300 × 35 % × 0.9
    assert "group_oil_high" in warnings  # 25 g > 25 × 40 % × 1.1
    assert "group_vegetable_low" in warnings
    assert not any("fruit" in w or "dairy" in w for w in warnings)  # served between meals


def test_older_pupils_need_more():
    t = totals(750, 19, 22, 105, "1.8", BALANCED_LUNCH_9_11)
    older = guideline.check_meal(totals=t, session_kind=SessionKind.LUNCH, group="15-17", subject="A", gender="m")
    # 2900 × 37.5 % = 1087.5 kcal target: 750 is far too little
    assert "energy_low" in codes(older)
    assert "protein_low" in codes(older)


@pytest.mark.django_db
def test_publishing_checks_the_day_and_announces_the_result(world):
    campus = world.campuses[0]
    make_meal_setup(campus, day=DAY)
    check = NutritionCheck.objects.get(campus=campus, day=DAY)
    # 标准套餐A: 763 kcal passes energy but has 4.18 g salt and 35 % fat (see test_nutrition)
    assert check.passed is False
    assert check.summary["age_group"] == "9-11"
    flagged = {(f["subject"], f["code"]) for f in check.flags}
    assert ("标准套餐A", "salt_high") in flagged
    assert ("标准套餐A", "fat_pct_high") in flagged
    assert ("标准套餐A", "energy_low") not in flagged
    event = OutboxEvent.objects.filter(topic="meals.nutrition_checked").latest("id")
    assert event.payload["campus_id"] == str(campus.id)
    assert event.payload["school_id"] == str(campus.school_id)
    assert event.payload["district_id"] == str(campus.school.district_id)
    assert event.payload["day"] == "2026-11-23"
    assert event.payload["passed"] is False
    assert {"code": "salt_high", "subject": "标准套餐A"}.items() <= next(
        f for f in event.payload["flags"] if f["code"] == "salt_high" and f["subject"] == "标准套餐A"
    ).items()
    published = OutboxEvent.objects.filter(topic="meals.menu_published").latest("id")
    assert published.payload["version"] == 1
    assert published.payload["session_kind"] == "lunch"


@pytest.mark.django_db
def test_a_healthier_menu_passes_the_check(world):
    campus = world.campuses[0]
    setup = make_meal_setup(campus)
    school = campus.school
    rice = services.dish_create(actor=None, school=school, name="二米饭", recipe={"SR20450": 100, "SR20031": 15})
    fish = services.dish_create(
        actor=None, school=school, name="清蒸鱼", recipe={"SR15261": 30, "SR11216": 2, "SR04582": 8, "SR02047": "0.35"}
    )
    tofu = services.dish_create(
        actor=None,
        school=school,
        name="白菜豆腐",
        recipe={"SR11119": 140, "SR16126": 40, "SR11124": 20, "SR04582": 8, "SR02047": "0.35"},
    )
    apple = services.dish_create(actor=None, school=school, name="苹果", recipe={"SR09003": 60})
    menu = services.menu_set_entries(
        actor=None,
        campus=campus,
        session=setup.sessions["lunch"],
        day=DAY,
        entries={setup.set_meals["A"]: [rice, fish, tofu, apple]},
    )
    services.menu_publish(actor=None, menu=menu)
    check = NutritionCheck.objects.filter(campus=campus, day=DAY).latest("created_at")
    # 685.7 kcal, 20.1 g protein, fat 26.5 %, carbohydrate 62.2 %, salt 0.82 g
    assert check.summary["sessions"]["lunch"]["标准套餐A"]["energy_kcal"] == "685.7"
    assert [f for f in check.flags if f["severity"] == "fail"] == []
    assert check.passed is True
