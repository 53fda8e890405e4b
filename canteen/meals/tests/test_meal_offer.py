"""At the serving window: what a student is offered, fast."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from canteen.core.money import Money
from canteen.meals import selectors, services
from canteen.meals.choices import Diet, SessionKind
from canteen.meals.tests.factories import make_meal_setup

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


@pytest.fixture
def setup(world):
    return make_meal_setup(world.campuses[0], day=DAY)


def test_student_without_plan_gets_the_default_set_meal_at_lunch(world, setup):
    student = world.students[0]
    offer = selectors.meal_offer_for(student=student, at=at(12, 0))
    assert offer is not None
    assert offer.session_kind == SessionKind.LUNCH
    assert offer.set_meal_name == "标准套餐A"
    assert offer.price == Money(600)
    assert offer.dishes == ["米饭", "番茄炒蛋", "青椒肉丝", "清炒小白菜"]
    assert offer.served_on == DAY
    # eggs from 番茄炒蛋; soy and gluten from the soy sauce in 青椒肉丝
    assert offer.allergens == ["gluten", "egg", "soy"]
    assert offer.session_id == setup.sessions[SessionKind.LUNCH].id


def test_no_offer_outside_serving_hours_or_on_a_day_without_a_published_menu(world, setup):
    student = world.students[0]
    assert selectors.meal_offer_for(student=student, at=at(10, 0)) is None
    assert selectors.meal_offer_for(student=student, at=at(13, 0)) is None  # end is exclusive
    assert selectors.meal_offer_for(student=student, at=at(12, 0, date(2026, 11, 24))) is None


def test_a_chosen_set_meal_and_a_special_diet_are_honoured(world, setup):
    first, second = world.students[0], world.students[1]
    services.meal_plan_set(actor=None, student=first, choices={SessionKind.LUNCH: setup.set_meals["B"]})
    services.meal_plan_set(actor=None, student=second, diet=Diet.HALAL)
    assert selectors.meal_offer_for(student=first, at=at(12)).set_meal_name == "套餐B"
    assert selectors.meal_offer_for(student=first, at=at(12)).price == Money(700)
    halal = selectors.meal_offer_for(student=second, at=at(12))
    assert halal.set_meal_name == "清真套餐"
    assert "青椒肉丝" not in halal.dishes


def test_opted_out_or_not_enrolled_students_get_nothing(world, setup):
    first, second = world.students[0], world.students[1]
    services.meal_opt_out_create(actor=None, student=first, start=DAY, end=DAY, reason="病假")
    services.meal_plan_set(actor=None, student=second, choices={SessionKind.LUNCH: None})
    assert selectors.meal_offer_for(student=first, at=at(12)) is None
    assert selectors.meal_offer_for(student=second, at=at(12)) is None
    # the opt-out ends; the next day the student eats again
    services.menu_publish(
        actor=None,
        menu=services.menu_set_entries(
            actor=None,
            campus=setup.campus,
            session=setup.sessions[SessionKind.LUNCH],
            day=date(2026, 11, 24),
            entries={setup.set_meals["A"]: [setup.dishes["米饭"], setup.dishes["番茄炒蛋"]]},
        ),
    )
    assert selectors.meal_offer_for(student=first, at=at(12, 0, date(2026, 11, 24))).set_meal_name == "标准套餐A"


def test_allergy_conflicts_are_pointed_out(world, setup):
    student = world.students[0]
    student.allergens = ["egg"]
    student.save()
    offer = selectors.meal_offer_for(student=student, at=at(12))
    assert offer.allergy_conflicts == ["egg"]


def test_offer_takes_at_most_two_queries_and_one_when_warm(world, setup):
    student = world.students[2]
    with CaptureQueriesContext(connection) as cold:
        assert selectors.meal_offer_for(student=student, at=at(12)) is not None
    with CaptureQueriesContext(connection) as warm:
        assert selectors.meal_offer_for(student=student, at=at(12, 30)) is not None
    assert len(cold) <= 2
    assert len(warm) == 1


def test_current_session(world, setup):
    campus = setup.campus
    assert selectors.current_session(campus=campus, at=at(11, 45)).kind == SessionKind.LUNCH
    assert selectors.current_session(campus=campus, at=at(9, 0)) is None
    # other campuses have no sessions
    assert selectors.current_session(campus=world.campuses[1], at=at(11, 45)) is None
