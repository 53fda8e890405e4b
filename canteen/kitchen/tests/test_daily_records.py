"""Morning checks, disinfection, accompanied meals and waste disposal as a kitchen lives them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from canteen.core.models import AuditEvent
from canteen.kitchen import selectors, services
from canteen.kitchen.errors import DisinfectionTooShort, DuplicateRecord, InvalidScore

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 23)


def _staff(world, name="王阿姨", **kw):
    return services.staff_add(actor=world.user("canteen_manager"), canteen=world.canteens[0], name=name, **kw)


def test_fever_or_symptoms_take_a_person_off_duty_for_the_day(world):
    manager = world.user("canteen_manager")
    well, feverish, wounded = _staff(world, "甲"), _staff(world, "乙"), _staff(world, "丙")
    assert services.morning_check_record(actor=manager, staff=well, day=DAY, temperature_c=36.6, symptoms=[]).fit
    assert not services.morning_check_record(
        actor=manager, staff=feverish, day=DAY, temperature_c=37.3, symptoms=[]
    ).fit
    assert not services.morning_check_record(
        actor=manager, staff=wounded, day=DAY, temperature_c=36.5, symptoms=["hand_wound"]
    ).fit
    assert selectors.off_duty_today(actor=manager, canteen=world.canteens[0], day=DAY) == {feverish.id, wounded.id}
    # A second check the same day cannot put someone back on duty.
    with pytest.raises(DuplicateRecord):
        services.morning_check_record(actor=manager, staff=feverish, day=DAY, temperature_c=36.5, symptoms=[])
    assert AuditEvent.objects.filter(action="kitchen.morning_check").count() == 3


def test_an_expired_health_certificate_is_unfit(world):
    staff = _staff(world, certificate_expires=date(2026, 11, 1))
    check = services.morning_check_record(
        actor=world.user("canteen_manager"), staff=staff, day=DAY, temperature_c=36.4, symptoms=[]
    )
    assert not check.fit
    assert "health_certificate_expired" in check.note


def test_disinfection_below_the_minimum_is_refused_with_the_minimum(world):
    started = timezone.make_aware(datetime(2026, 11, 23, 14, 0))
    args = {
        "actor": world.user("canteen_manager"),
        "canteen": world.canteens[0],
        "target": "tableware",
        "started_at": started,
        "operator_name": "赵",
    }
    with pytest.raises(DisinfectionTooShort) as too_cool:
        services.disinfection_record(**args, method="infrared_cabinet", duration_min=15, temperature_c=100)
    assert too_cool.value.details["minimum"] == {"temperature_c": 120}
    with pytest.raises(DisinfectionTooShort):
        services.disinfection_record(**args, method="chlorine", duration_min=5, concentration_mg_l=100)
    record = services.disinfection_record(**args, method="steam", duration_min=15, temperature_c=100)
    assert record.day == DAY


def test_accompanied_meal_needs_scores_1_to_5_and_comments(world):
    args = {
        "actor": world.user("school_admin"),
        "canteen": world.canteens[0],
        "day": DAY,
        "meal": "lunch",
        "leader_name": "张校长",
    }
    with pytest.raises(InvalidScore):
        services.accompanied_meal_record(**args, taste_score=6, hygiene_score=5, portion_score=5, comments="好")
    with pytest.raises(InvalidScore):
        services.accompanied_meal_record(**args, taste_score=4, hygiene_score=5, portion_score=5, comments="  ")
    record = services.accompanied_meal_record(
        **args, taste_score=4, hygiene_score=5, portion_score=3, comments="米饭偏硬", issues="分量不足"
    )
    assert record.issues == "分量不足"


def test_waste_disposal_records_weight_and_collector(world):
    at = timezone.make_aware(datetime(2026, 11, 23, 19, 0))
    record = services.waste_disposal_record(
        actor=world.user("canteen_manager"),
        canteen=world.canteens[0],
        kind="waste_oil",
        weight_kg="12.345",
        collector_company="荆州市环卫",
        disposed_at=at,
        receipt_no="HW-001",
    )
    assert record.weight_kg == Decimal("12.35")
    with pytest.raises(InvalidScore):
        services.waste_disposal_record(
            actor=world.user("canteen_manager"),
            canteen=world.canteens[0],
            kind="food_waste",
            weight_kg=0,
            collector_company="x",
            disposed_at=at,
        )


def test_records_are_visible_only_within_scope(world):
    _staff(world)
    assert selectors.staff_of(actor=world.user("district_regulator"), canteen=world.canteens[0]).count() == 1
    assert selectors.staff_of(actor=world.user("guardian"), canteen=world.canteens[0]).count() == 0
