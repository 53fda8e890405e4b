"""Tomorrow's portions from meal plans and what was actually served on recent days."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from canteen.meals import forecast, selectors, services
from canteen.meals.choices import Diet, SessionKind
from canteen.meals.tests.factories import make_meal_setup
from canteen.org.tests.factories import make_world

pytestmark = pytest.mark.django_db
TOMORROW = date(2026, 11, 24)


@pytest.fixture
def campus_setup(db):
    world = make_world(students_per_campus=20, tag="F")
    campus = world.campuses[0]
    setup = make_meal_setup(campus, day=TOMORROW, publish=False)
    students = [s for s in world.students if s.campus_id == campus.id]
    # 5 take 套餐B, 2 eat halal, 1 is on sick leave tomorrow, the other 12 take the default A.
    for student in students[:5]:
        services.meal_plan_set(actor=None, student=student, choices={SessionKind.LUNCH: setup.set_meals["B"]})
    for student in students[5:7]:
        services.meal_plan_set(actor=None, student=student, diet=Diet.HALAL)
    services.meal_opt_out_create(actor=None, student=students[7], start=TOMORROW, end=TOMORROW + timedelta(days=2))
    return setup


def record(setup, day, key, planned, served):
    services.served_count_record(
        actor=None,
        campus=setup.campus,
        day=day,
        session_kind=SessionKind.LUNCH,
        set_meal=setup.set_meals[key],
        planned=planned,
        served=served,
    )


def test_without_history_the_forecast_is_the_plan(campus_setup):
    rows = {f.set_meal_name: f for f in forecast.forecast_set_meals(campus=campus_setup.campus, day=TOMORROW)}
    assert {name: (f.planned, f.portions, f.ratio) for name, f in rows.items()} == {
        "标准套餐A": (12, 12, D(1)),
        "套餐B": (5, 5, D(1)),
        "清真套餐": (2, 2, D(1)),
    }


def test_recent_serving_data_scales_the_plan(campus_setup):
    # Five school days before: A is served to 11 of 12 planned; B to 5 of 5, except one day 3.
    for back in range(1, 6):
        day = TOMORROW - timedelta(days=back)
        record(campus_setup, day, "A", planned=12, served=11)
        record(campus_setup, day, "B", planned=5, served=3 if back == 2 else 5)
        record(campus_setup, day, "H", planned=2, served=2)
    # Data older than the look-back window is ignored.
    record(campus_setup, TOMORROW - timedelta(days=30), "A", planned=12, served=1)

    rows = {f.set_meal_name: f for f in forecast.forecast_set_meals(campus=campus_setup.campus, day=TOMORROW)}
    a, b, h = rows["标准套餐A"], rows["套餐B"], rows["清真套餐"]
    assert (a.planned, a.history_days, a.ratio, a.portions) == (12, 5, D("0.917"), 11)  # 12 × 55/60
    assert (b.planned, b.ratio, b.portions) == (5, D("0.920"), 5)  # ceil(5 × 23/25 = 4.6)
    assert (h.planned, h.portions) == (2, 2)

    dishes = {f.dish_name: f.portions for f in forecast.forecast_dishes(campus=campus_setup.campus, day=TOMORROW)}
    assert dishes["米饭"] == 11 + 5 + 2  # in every set meal
    assert dishes["番茄炒蛋"] == 11 + 2  # A and halal
    assert dishes["土豆烧鸡"] == 5 + 2  # B and halal
    assert dishes["青椒肉丝"] == 11

    demand = {row.food_code: row for row in forecast.ingredient_demand_detail(campus=campus_setup.campus, day=TOMORROW)}
    assert demand["SR20450"].quantity_kg == D("1.800")  # rice 100 g × 18
    assert demand["SR01123"].quantity_kg == D("0.650")  # egg 50 g × 13
    # salt: 1 g in 番茄炒蛋 (13), 青椒肉丝 (11), 清炒小白菜 (13), 土豆烧鸡 (7) + 0.5 g 花生拌菠菜 (5)
    assert demand["SR02047"].quantity_kg == D("0.047")  # 44 + 2.5 = 46.5 g, rounded up


def test_ingredient_demand_for_procurement_lists_linked_items(world):
    from canteen.org.choices import Role
    from canteen.procurement import services as procurement

    campus = world.campuses[0]
    item = procurement.item_create(
        actor=world.user(Role.DISTRICT_REGULATOR),
        district=campus.school.district,
        code="GO-001",
        name="大米",
        category="grain_oil",
        unit="kg",
        food_code="SR20450",
    )
    make_meal_setup(campus, day=TOMORROW)
    # 3 students, no plans: 3 default set meals, 100 g rice each
    assert selectors.ingredient_demand(campus=campus, day=TOMORROW) == [(item.id, D("0.300"), "kg")]


def test_no_menu_no_forecast(campus_setup):
    assert forecast.forecast_dishes(campus=campus_setup.campus, day=TOMORROW + timedelta(days=1)) == []


def test_turn_out_comes_from_consumptions_meal_records_when_there_are_any(db):
    """Meals served at the window (consumption's records) are the history the forecast uses."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from canteen.consumption import services as consumption
    from canteen.core.money import Money
    from canteen.ledger import services as ledger
    from canteen.org.choices import Role

    world = make_world(students_per_campus=8, tag="R")
    campus = world.campuses[0]
    students = [s for s in world.students if s.campus_id == campus.id]
    window = world.windows[0]
    operator = world.user(Role.WINDOW_OPERATOR)
    past = [TOMORROW - timedelta(days=n) for n in (1, 2, 3)]
    make_meal_setup(campus, day=past[0])
    for day in past[1:] + [TOMORROW]:
        make_meal_setup(campus, day=day)
    for student in students:
        ledger.top_up(
            student=student,
            amount=Money.from_yuan("100"),
            channel="cash",
            idempotency_key=f"t-{student.pk}",
            actor=None,
        )
    # On each of the three days, 6 of the 8 planned students ate (the default 标准套餐A).
    for day in past:
        at = datetime.combine(day, time(12, 0), tzinfo=ZoneInfo("Asia/Shanghai"))
        for student in students[:6]:
            consumption.checkout_record(
                student=student,
                method="manual",
                idempotency_key=f"{student.pk}-{day}",
                actor=operator,
                window=window,
                at=at,
            )
    history = forecast.served_history(campus=campus, start=past[-1], end=past[0])
    assert sum(history.values()) == 18
    (row,) = forecast.forecast_set_meals(campus=campus, day=TOMORROW)
    assert (row.set_meal_name, row.planned, row.history_days, row.ratio, row.portions) == (
        "标准套餐A",
        8,
        3,
        D("0.750"),
        6,
    )


def test_no_forecast_on_a_day_without_school(campus_setup):
    """A menu typed in for a school's closure day (schoolcalendar) cooks nothing."""
    from canteen.schoolcalendar.models import CalendarEntry

    campus = campus_setup.campus
    assert forecast.forecast_set_meals(campus=campus, day=TOMORROW)
    CalendarEntry.objects.create(
        district_id=campus.school.district_id, school_id=campus.school_id, kind="closure", name="停课",
        start=TOMORROW, end=TOMORROW,
    )  # fmt: skip
    assert forecast.forecast_set_meals(campus=campus, day=TOMORROW) == []
