"""Alarms and missing safety records raised by the kitchen domain's own services, and nutrition
checks run by the meals domain, reach supervision as counts and cases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from canteen.org.choices import Role
from canteen.supervision import selectors, services
from canteen.supervision.choices import CaseSource
from canteen.supervision.models import Case, DailyCampusStats, LiveItem

pytestmark = pytest.mark.django_db


def test_a_kitchen_alarm_and_a_missing_sample_through_kitchen_services(world):
    from canteen.kitchen import services as kitchen

    canteen = world.canteens[0]
    camera = kitchen.camera_create(
        actor=world.user(Role.DISTRICT_REGULATOR), canteen=canteen, name="烹饪区1", area="cooking",
        stream_url="rtsp://192.0.2.10/stream1",
    )  # fmt: skip
    alarm = kitchen.alarm_raise(camera=camera, kind="covered", at=timezone.now(), score=0.9)
    case = Case.objects.get(source=CaseSource.ALARM)
    assert case.source_ref == str(alarm.id)
    assert "镜头遮挡" in case.title
    assert case.campus_id == canteen.campus_id
    assert LiveItem.objects.filter(kind="alarm").exists()

    # A first gap in the week is an alert to the canteen (notify); a repeat is a case.
    yesterday = timezone.localdate() - timedelta(days=1)
    kitchen.missing_record_raise(canteen=canteen, kind="food_sample", day=yesterday, meal="lunch", detail={})
    assert not Case.objects.filter(source=CaseSource.RECORD_MISSING).exists()
    kitchen.missing_record_raise(canteen=canteen, kind="food_sample", day=timezone.localdate(), meal="lunch", detail={})
    missing = Case.objects.get(source=CaseSource.RECORD_MISSING)
    assert "留样" in missing.title
    row = DailyCampusStats.objects.get(campus_id=canteen.campus_id, day=timezone.localdate())
    assert (row.alarms, row.records_missing) == (1, 1)
    # The dashboard reads the camera count from the kitchen domain.
    services.campus_dim_refresh()
    unit = selectors.resolve_unit(actor=world.user(Role.DISTRICT_REGULATOR), level="campus", unit_id=canteen.campus_id)
    cams = selectors.camera_summary(actor=world.user(Role.DISTRICT_REGULATOR), unit=unit)
    assert cams == {"online": 0, "total": 1}


def test_a_nutrition_check_run_by_meals_reaches_supervision(world):
    from canteen.consumption.tests.conftest import serve_all_day
    from canteen.meals.nutrition_checks import nutrition_check_day

    campus = world.campuses[0]
    serve_all_day(campus)
    from canteen.meals.models import NutritionCheck

    nutrition_check_day(campus=campus, day=timezone.localdate())
    checks = NutritionCheck.objects.filter(campus=campus, day=timezone.localdate())
    row = DailyCampusStats.objects.get(campus_id=campus.pk, day=timezone.localdate())
    # The rollup equals a direct count of the meals domain's checks (publishing a menu may
    # already have run one).
    assert row.nutrition_checks == checks.count() >= 1
    assert row.nutrition_failed == checks.filter(passed=False).count()
    opened = Case.objects.filter(source=CaseSource.NUTRITION_FAILED, campus_id=campus.pk).count()
    assert opened == (1 if row.nutrition_failed else 0)  # one open case per campus and week
