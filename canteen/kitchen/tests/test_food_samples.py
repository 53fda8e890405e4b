"""留样: every dish of every meal, at least 125 g, kept at least 48 h, with who and when; the
sweep raises kitchen.record_missing once per gap after the meal is over."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from canteen.core.models import OutboxEvent
from canteen.kitchen import services, tasks
from canteen.kitchen.errors import DuplicateRecord, SampleKeptTooShort, SampleStillHeld, SampleTooSmall, StaffOffDuty
from canteen.kitchen.models import FoodSample, KitchenSchedule, MissingRecordAlert

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 11, 23)


def _at(day, hh, mm=0):
    return timezone.make_aware(datetime(day.year, day.month, day.day, hh, mm))


def _sample(world, **kw):
    args = {
        "actor": world.user("canteen_manager"),
        "canteen": world.canteens[0],
        "day": MONDAY,
        "meal": "lunch",
        "dish_name": "番茄炒蛋",
        "weight_g": 150,
        "sampler_name": "李师傅",
        "sampled_at": _at(MONDAY, 11, 40),
    }
    return services.food_sample_record(**{**args, **kw})


def test_a_sample_is_kept_48_hours_from_when_it_was_taken(world):
    sample = _sample(world)
    assert sample.keep_until == _at(MONDAY, 11, 40) + timedelta(hours=48)
    assert sample.recorded_by == world.user("canteen_manager")


def test_too_small_or_kept_too_short_is_refused(world):
    with pytest.raises(SampleTooSmall):
        _sample(world, weight_g=124)
    with pytest.raises(SampleKeptTooShort):
        _sample(world, keep_hours=24)
    assert not FoodSample.objects.exists()


def test_one_sample_per_dish_and_meal(world):
    _sample(world)
    with pytest.raises(DuplicateRecord):
        _sample(world, weight_g=200)
    _sample(world, meal="dinner")  # the same dish at another meal is another sample


def test_a_sample_cannot_be_discarded_before_its_time(world):
    sample = _sample(world)
    with pytest.raises(SampleStillHeld):
        services.food_sample_discard(
            actor=world.user("canteen_manager"), sample_id=sample.id, now=_at(MONDAY + timedelta(days=1), 12)
        )
    services.food_sample_discard(
        actor=world.user("canteen_manager"), sample_id=sample.id, now=_at(MONDAY + timedelta(days=2), 12)
    )
    with pytest.raises(DuplicateRecord):
        services.food_sample_discard(
            actor=world.user("canteen_manager"), sample_id=sample.id, now=_at(MONDAY + timedelta(days=3), 12)
        )


def test_someone_sent_home_by_the_morning_check_cannot_sign_a_sample(world):
    staff = services.staff_add(actor=world.user("canteen_manager"), canteen=world.canteens[0], name="李师傅")
    services.morning_check_record(
        actor=world.user("canteen_manager"), staff=staff, day=MONDAY, temperature_c=38.2, symptoms=[]
    )
    with pytest.raises(StaffOffDuty):
        _sample(world)


def _schedule(canteen, meals=("lunch",)):
    return KitchenSchedule.objects.create(canteen=canteen, work_days=[0, 1, 2, 3, 4], meals=list(meals))


def test_missing_sample_after_lunch_is_raised_once_with_the_org_ids(world):
    canteen = world.canteens[0]
    _schedule(canteen, meals=["breakfast", "lunch"])
    _sample(world, meal="breakfast")
    assert tasks.missing_samples_check(day=MONDAY, now=_at(MONDAY, 13, 0)) == 0  # lunch not over yet
    assert tasks.missing_samples_check(day=MONDAY, now=_at(MONDAY, 15, 0)) == 1
    assert tasks.missing_samples_check(day=MONDAY, now=_at(MONDAY, 16, 0)) == 0  # raised once
    alert = MissingRecordAlert.objects.get()
    assert (alert.meal, alert.kind) == ("lunch", "food_sample")
    event = OutboxEvent.objects.get(topic="kitchen.record_missing")
    assert event.payload == {
        "kind": "food_sample",
        "campus_id": str(canteen.campus_id),
        "school_id": str(canteen.campus.school_id),
        "district_id": str(canteen.campus.school.district_id),
        "day": "2026-11-23",
        "meal": "lunch",
        "canteen_id": str(canteen.id),
        # A first gap in the week: an alert, not yet a case.
        "repeated": False,
        "count_in_window": 1,
    }


def test_with_a_published_menu_every_dish_needs_its_sample(world):
    _schedule(world.canteens[0])
    _sample(world, dish_name="番茄炒蛋")
    planned = [{"name": "番茄炒蛋", "id": None}, {"name": "清炒菠菜", "id": None}]
    with mock.patch("canteen.kitchen.selectors.planned_dishes", return_value=planned):
        assert tasks.missing_samples_check(day=MONDAY, now=_at(MONDAY, 15)) == 1
    assert MissingRecordAlert.objects.get().detail["dishes"] == ["清炒菠菜"]


def test_days_off_and_canteens_off_the_programme_are_not_checked(world):
    _schedule(world.canteens[0])
    sunday = MONDAY - timedelta(days=1)
    assert tasks.missing_samples_check(day=sunday, now=_at(MONDAY, 15)) == 0
    # world.canteens[1] has no kitchen schedule: it does not keep its records here.
    assert tasks.missing_samples_check(day=MONDAY, now=_at(MONDAY, 15)) == 1
    assert MissingRecordAlert.objects.get().canteen == world.canteens[0]
