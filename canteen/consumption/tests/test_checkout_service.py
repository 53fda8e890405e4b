"""Checkout at the window: what a student, an operator and the books live through."""

from __future__ import annotations

import pytest

from canteen.consumption import services
from canteen.consumption.errors import (
    AlreadyServed,
    FaceConsentMissing,
    InsufficientBalance,
    NoMealOffered,
    RecordAlreadyVoided,
    StudentNotEnrolled,
    WrongCampus,
)
from canteen.consumption.models import ChargeStatus, MealRecord, RecordStatus
from canteen.core.models import AuditEvent, OutboxEvent
from canteen.ledger.models import Posting

from .conftest import balance, fund

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("checkout_path")]


def checkout(student, canteen, operator, key, **kw):
    return services.checkout_record(
        student=student,
        method=kw.pop("method", "manual"),
        idempotency_key=key,
        actor=operator,
        window=canteen.window,
        **kw,
    )


def test_a_funded_student_is_served_charged_recorded_and_announced(world, canteen, operator):
    student = world.students[0]
    fund(student, "20.00")
    result = checkout(student, canteen, operator, "k-1")
    record = result.record
    assert record.status == RecordStatus.SERVED
    assert record.charge_status == ChargeStatus.CHARGED
    assert record.price_fen == canteen.price_fen
    assert record.set_meal_name == "标准套餐A"
    assert record.dishes  # what the plate holds, as the menu said
    assert result.balance_after.fen == 2000 - canteen.price_fen == balance(student)
    assert record.balance_after_fen == result.balance_after.fen
    assert Posting.objects.get(pk=record.posting_id).amount_fen == canteen.price_fen
    assert (record.school_id, record.district_id) == (canteen.campus.school_id, canteen.campus.school.district_id)
    event = OutboxEvent.objects.filter(topic="consumption.meal_served").get()
    assert event.payload == {
        "record_id": str(record.pk),
        "student_id": str(student.pk),
        "campus_id": str(canteen.campus.pk),
        "school_id": str(canteen.campus.school_id),
        "district_id": str(canteen.campus.school.district_id),
        "session_kind": "lunch",
        "served_on": record.served_on.isoformat(),
        "served_at": record.served_at.isoformat(),
        "amount_fen": canteen.price_fen,
        "method": "manual",
    }
    audit = AuditEvent.objects.get(action="consumption.meal_served")
    assert audit.actor == operator
    assert audit.target_id == str(record.pk)


def test_the_same_key_twice_charges_once_and_returns_the_same_record(world, canteen, operator):
    student = world.students[0]
    fund(student, "20.00")
    first = checkout(student, canteen, operator, "dup-key")
    again = checkout(student, canteen, operator, "dup-key")
    assert again.replayed
    assert again.record.pk == first.record.pk
    assert MealRecord.objects.count() == 1
    assert Posting.objects.filter(kind="meal_charge").count() == 1
    assert balance(student) == 2000 - canteen.price_fen


def test_a_second_meal_in_the_same_session_is_refused_with_when_and_where(world, canteen, operator):
    student = world.students[0]
    fund(student, "20.00")
    checkout(student, canteen, operator, "first")
    with pytest.raises(AlreadyServed) as exc:
        checkout(student, canteen, operator, "second")
    assert exc.value.details["window"] == canteen.window.name
    assert "已取过餐" in exc.value.message_zh
    assert balance(student) == 2000 - canteen.price_fen


def test_a_session_that_allows_seconds_serves_two_but_not_three(world, canteen, operator):
    from canteen.meals import services as meals_services
    from canteen.meals.models import MealSession

    session = MealSession.objects.get(campus=canteen.campus, kind="lunch")
    meals_services.meal_session_set(
        actor=None,
        campus=canteen.campus,
        kind="lunch",
        serve_start=session.serve_start,
        serve_end=session.serve_end,
        allows_second_meal=True,
    )
    student = world.students[0]
    fund(student, "50.00")
    assert checkout(student, canteen, operator, "s1").record.serving_no == 1
    assert checkout(student, canteen, operator, "s2").record.serving_no == 2
    with pytest.raises(AlreadyServed):
        checkout(student, canteen, operator, "s3")


def test_insufficient_balance_is_refused_clearly_and_nothing_is_recorded(world, canteen, operator):
    student = world.students[0]
    fund(student, "1.00")
    with pytest.raises(InsufficientBalance) as exc:
        checkout(student, canteen, operator, "poor")
    assert exc.value.details == {"balance_fen": 100, "price_fen": canteen.price_fen}
    assert "余额不足" in exc.value.message_zh
    assert "¥1.00" in exc.value.message_zh
    assert not MealRecord.objects.exists()
    assert not OutboxEvent.objects.filter(topic="consumption.meal_served").exists()
    assert balance(student) == 100


def test_outside_serving_hours_no_meal_is_offered(world, canteen, operator):
    from datetime import timedelta

    from django.utils import timezone

    student = world.students[0]
    fund(student, "20.00")
    with pytest.raises(NoMealOffered):
        checkout(student, canteen, operator, "late", at=timezone.now() + timedelta(days=3))


def test_a_student_of_another_campus_or_not_enrolled_is_refused(world, canteen, operator):
    other = next(s for s in world.students if s.campus_id != canteen.campus.pk)
    with pytest.raises(WrongCampus):
        checkout(other, canteen, operator, "other")
    student = world.students[1]
    student.status = "left"
    student.save()
    with pytest.raises(StudentNotEnrolled):
        checkout(student, canteen, operator, "left")


def test_face_checkout_needs_face_consent(world, canteen, operator):
    student = world.students[0]
    fund(student, "20.00")
    with pytest.raises(FaceConsentMissing) as exc:
        checkout(student, canteen, operator, "face", method="face", match_distance=0.2)
    assert "二维码" in exc.value.message_zh  # the alternative is named, not just a refusal


def test_voiding_refunds_once_frees_the_session_and_is_announced(world, canteen, operator):
    student = world.students[0]
    fund(student, "20.00")
    record = checkout(student, canteen, operator, "v1").record
    voided = services.meal_record_void(record=record, actor=operator, reason="学生未取走")
    assert voided.status == RecordStatus.VOIDED
    assert voided.void_posting_id
    assert balance(student) == 2000
    with pytest.raises(RecordAlreadyVoided):
        services.meal_record_void(record=record, actor=operator, reason="again")
    assert balance(student) == 2000
    assert OutboxEvent.objects.filter(topic="consumption.meal_voided").count() == 1
    assert [(t.from_status, t.to_status) for t in voided.transitions.all()] == [("served", "voided")]
    # The session slot is free again.
    assert checkout(student, canteen, operator, "v2").record.serving_no == 2


def test_an_offline_served_meal_beyond_the_balance_is_kept_unpaid_then_settled(world, canteen, operator):
    student = world.students[0]
    fund(student, "1.00")
    record = checkout(student, canteen, operator, "off-1", served_offline=True).record
    assert record.charge_status == ChargeStatus.UNPAID
    assert not record.posting_id
    assert balance(student) == 100
    assert services.meal_record_settle(record=record).charge_status == ChargeStatus.UNPAID
    fund(student, "20.00")
    settled = services.meal_record_settle(record=record)
    assert settled.charge_status == ChargeStatus.CHARGED
    assert balance(student) == 2100 - canteen.price_fen
    # Settling again changes nothing.
    services.meal_record_settle(record=settled)
    assert balance(student) == 2100 - canteen.price_fen
