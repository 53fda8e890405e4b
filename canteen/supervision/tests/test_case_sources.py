"""Every automatic source opens a case (once per source reference)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from canteen.org.choices import Role
from canteen.supervision import services
from canteen.supervision.choices import CaseSource, FeedbackStatus, ItemResult, Severity
from canteen.supervision.models import Case, LicenceWatch

from . import events

pytestmark = pytest.mark.django_db


def only_case(source: str) -> Case:
    cases = list(Case.objects.filter(source=source))
    assert len(cases) == 1, cases
    return cases[0]


def test_a_kitchen_alarm_opens_one_case_per_alarm(world):
    c = world.campuses[0]
    events.alarm(c, alarm_id="A-1", kind="no_hat")
    events.alarm(c, alarm_id="A-1", kind="no_hat")  # the same alarm announced twice
    case = only_case(CaseSource.ALARM)
    assert (case.campus_id, case.school_id, case.district_id) == (c.pk, c.school_id, c.school.district_id)
    assert case.source_ref == "A-1"
    assert "no_hat" in case.title
    events.alarm(c, alarm_id="A-2")
    assert Case.objects.filter(source=CaseSource.ALARM).count() == 2


def test_a_missing_safety_record_opens_a_case(world):
    events.record_missing(world.campuses[1], kind="sample", meal="lunch")
    events.record_missing(world.campuses[1], kind="sample", meal="lunch")
    case = only_case(CaseSource.RECORD_MISSING)
    assert "留样" in case.title
    assert case.campus_id == world.campuses[1].pk


def test_an_expired_licence_opens_a_high_severity_district_case(world):
    district = world.districts[0]
    events.licence("procurement.licence_expiring", district, licence_id="L9")
    assert not Case.objects.exists()
    assert LicenceWatch.objects.get(ref="L9").expired is False
    events.licence("procurement.licence_expired", district, licence_id="L9")
    case = only_case(CaseSource.LICENCE_EXPIRED)
    assert case.severity == Severity.HIGH
    assert case.district_id == district.pk
    assert case.school_id is None
    assert LicenceWatch.objects.get(ref="L9").expired is True


def test_a_rejected_delivery_opens_a_case_and_a_partial_one_too(world):
    events.delivery(world.campuses[0], accepted_fen=0, rejected=3, delivery_id="D-1")
    case = only_case(CaseSource.DELIVERY_REJECTED)
    assert "温度超标" in case.description
    events.delivery(world.campuses[0], accepted_fen=8000, rejected=1, delivery_id="D-2")
    assert Case.objects.filter(source=CaseSource.DELIVERY_REJECTED).count() == 2
    events.delivery(world.campuses[0], accepted_fen=8000, delivery_id="D-3")  # all accepted
    assert Case.objects.filter(source=CaseSource.DELIVERY_REJECTED).count() == 2


def test_a_failed_nutrition_check_opens_a_case_a_passed_one_does_not(world):
    events.nutrition(world.campuses[0], passed=True)
    assert not Case.objects.exists()
    monday = date(2026, 11, 16)
    events.nutrition(world.campuses[0], passed=False, day=monday, flags=["蛋白质不足", "能量偏低"])
    case = only_case(CaseSource.NUTRITION_FAILED)
    assert "蛋白质不足" in case.description
    # Failing again the same week is a recurrence of the open case; the next week is a new one.
    events.nutrition(world.campuses[0], passed=False, day=monday + timedelta(days=2), flags=["脂肪偏高"])
    assert only_case(CaseSource.NUTRITION_FAILED).steps.filter(action="recur").count() == 1
    events.nutrition(world.campuses[0], passed=False, day=monday + timedelta(days=7))
    assert Case.objects.filter(source=CaseSource.NUTRITION_FAILED).count() == 2


def test_inspection_findings_open_cases(world):
    regulator = world.user(Role.DISTRICT_REGULATOR)
    inspection = services.inspection_plan(
        actor=regulator, campus_id=world.campuses[0].pk, planned_on=world.campuses[0].created_at.date()
    )
    results = {item.code: (ItemResult.PASS, "") for item in inspection.items.all()}
    results["samples"] = (ItemResult.FAIL, "周二午餐未留样")
    results["pests"] = (ItemResult.FAIL, "库房防鼠板缺失")
    inspection = services.inspection_record(actor=regulator, inspection=inspection, results=results)
    cases = Case.objects.filter(source=CaseSource.INSPECTION)
    assert cases.count() == 2
    assert set(inspection.items.exclude(case=None).values_list("code", flat=True)) == {"samples", "pests"}


def test_a_parent_complaint_opens_a_case_a_suggestion_does_not(world):
    canteen = world.canteens[0]
    suggestion = services.feedback_submit(
        canteen_code=canteen.code, kind="suggestion", text="希望多些水果", ip="1.1.1.1"
    )
    assert suggestion.status == FeedbackStatus.RECEIVED
    assert not Case.objects.exists()
    complaint = services.feedback_submit(canteen_code=canteen.code, kind="complaint", text="米饭夹生", ip="1.1.1.2")
    case = only_case(CaseSource.FEEDBACK)
    assert complaint.status == FeedbackStatus.CASE_OPENED
    assert complaint.case == case
    assert case.campus_id == canteen.campus_id
