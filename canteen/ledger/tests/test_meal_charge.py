"""A student eats: the window charges the wallet once per meal, never below zero."""

import pytest

from canteen.core.events import subscribe
from canteen.core.models import OutboxEvent
from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.errors import DailyLimitExceeded, IdempotencyMismatch, InsufficientFunds
from canteen.ledger.models import Account, Posting
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Role

from .helpers import assert_books_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(world):
    student = world.students[0]
    services.top_up(
        student=student,
        amount=Money(2000),
        channel="cash",
        idempotency_key="t-1",
        actor=world.user(Role.CANTEEN_MANAGER),
    )
    return student


def test_meal_charge_moves_money_from_wallet_to_campus_revenue(world, funded):
    posting = services.meal_charge(
        student=funded, amount=Money(650), idempotency_key="meal-1", campus=funded.campus, meal_ref="lunch"
    )
    assert balance_of(student=funded) == Money(1350)
    revenue = Account.objects.get(code=f"revenue:{funded.campus_id}")
    assert revenue.shown_fen == 650
    assert posting.district_id == funded.campus.school.district_id
    assert_books_balance()


def test_the_same_key_returns_the_same_posting_and_charges_once(world, funded):
    first = services.meal_charge(student=funded, amount=Money(650), idempotency_key="meal-1", campus=funded.campus)
    again = services.meal_charge(student=funded, amount=Money(650), idempotency_key="meal-1", campus=funded.campus)
    assert again.pk == first.pk
    assert balance_of(student=funded) == Money(1350)
    assert Posting.objects.filter(kind="meal_charge").count() == 1


def test_a_key_reused_for_another_amount_is_refused(world, funded):
    services.meal_charge(student=funded, amount=Money(650), idempotency_key="meal-1", campus=funded.campus)
    with pytest.raises(IdempotencyMismatch):
        services.meal_charge(student=funded, amount=Money(700), idempotency_key="meal-1", campus=funded.campus)


def test_a_charge_beyond_the_balance_is_refused_with_the_figures(world, funded):
    with pytest.raises(InsufficientFunds) as caught:
        services.meal_charge(student=funded, amount=Money(2001), idempotency_key="meal-2", campus=funded.campus)
    assert caught.value.code == "insufficient_funds"
    assert caught.value.details["balance_fen"] == 2000
    assert caught.value.details["amount_fen"] == 2001
    assert balance_of(student=funded) == Money(2000)
    assert not Posting.objects.filter(kind="meal_charge").exists()
    assert_books_balance()


def test_a_student_without_a_wallet_cannot_eat_on_credit(world):
    student = world.students[1]
    with pytest.raises(InsufficientFunds):
        services.meal_charge(student=student, amount=Money(500), idempotency_key="m", campus=student.campus)
    assert balance_of(student=student) == Money(0)


def test_the_daily_limit_set_by_the_guardian_is_enforced(world, funded):
    Account.objects.filter(code=f"wallet:{funded.pk}").update(daily_limit_fen=1000)
    services.meal_charge(student=funded, amount=Money(600), idempotency_key="a", campus=funded.campus)
    with pytest.raises(DailyLimitExceeded):
        services.meal_charge(student=funded, amount=Money(500), idempotency_key="b", campus=funded.campus)
    services.meal_charge(student=funded, amount=Money(400), idempotency_key="c", campus=funded.campus)
    assert balance_of(student=funded) == Money(1000)


def test_a_meal_charge_publishes_an_event_for_the_rollups(world, funded):
    seen = []
    subscribe("ledger.meal_charged")(seen.append)
    try:
        posting = services.meal_charge(student=funded, amount=Money(650), idempotency_key="e", campus=funded.campus)
    finally:
        from canteen.core.events import _subscribers

        _subscribers["ledger.meal_charged"].remove(seen.append)
    payload = OutboxEvent.objects.filter(topic="ledger.meal_charged").get().payload
    assert payload["posting_id"] == str(posting.pk)
    assert payload["amount_fen"] == 650
    assert payload["student_id"] == str(funded.pk)
    assert payload["school_id"] == str(funded.campus.school_id)
    assert len(seen) == 1


def test_voiding_a_meal_refunds_it_once(world, funded):
    manager = world.user(Role.CANTEEN_MANAGER)
    charge = services.meal_charge(student=funded, amount=Money(650), idempotency_key="m", campus=funded.campus)
    refund = services.meal_charge_reverse(posting=charge, actor=manager, reason="作废", idempotency_key="r1")
    again = services.meal_charge_reverse(posting=charge, actor=manager, reason="作废", idempotency_key="r1")
    assert again.pk == refund.pk
    assert refund.reverses_id == charge.pk
    assert balance_of(student=funded) == Money(2000)
    from canteen.ledger.errors import AlreadyReversed

    with pytest.raises(AlreadyReversed):
        services.meal_charge_reverse(posting=charge, actor=manager, reason="again", idempotency_key="r2")
    assert_books_balance()


def test_postings_are_append_only(world, funded):
    charge = services.meal_charge(student=funded, amount=Money(650), idempotency_key="m", campus=funded.campus)
    with pytest.raises(TypeError):
        charge.save()
    with pytest.raises(TypeError):
        Posting.objects.filter(pk=charge.pk).update(amount_fen=1)
    with pytest.raises(TypeError):
        charge.entries.all().delete()


def test_an_offline_meal_is_dated_on_the_day_it_was_served_without_todays_limit(world, funded):
    from datetime import timedelta

    from django.utils import timezone

    Account.objects.filter(code=f"wallet:{funded.pk}").update(daily_limit_fen=500)
    yesterday = timezone.localdate() - timedelta(days=1)
    posting = services.meal_charge(
        student=funded, amount=Money(650), idempotency_key="off-1", campus=funded.campus, served_on=yesterday
    )
    assert posting.on == yesterday
    # Today's limit is untouched by yesterday's meal.
    services.meal_charge(student=funded, amount=Money(500), idempotency_key="today", campus=funded.campus)


def test_an_offline_meal_of_a_closed_day_goes_to_the_open_period(world, funded):
    from datetime import timedelta

    from django.utils import timezone

    yesterday = timezone.localdate() - timedelta(days=1)
    services.period_close(campus=funded.campus, through=yesterday, actor=None)
    posting = services.meal_charge(
        student=funded, amount=Money(650), idempotency_key="off-2", campus=funded.campus, served_on=yesterday
    )
    assert posting.on == timezone.localdate()
    assert yesterday.isoformat() in posting.memo


def test_the_low_balance_alert_fires_once_when_the_balance_crosses_it(world, funded):
    Account.objects.filter(code=f"wallet:{funded.pk}").update(low_balance_alert_fen=1000)
    services.meal_charge(student=funded, amount=Money(650), idempotency_key="a", campus=funded.campus)  # 1350 left
    assert not OutboxEvent.objects.filter(topic="ledger.low_balance").exists()
    services.meal_charge(student=funded, amount=Money(650), idempotency_key="b", campus=funded.campus)  # 700 left
    services.meal_charge(student=funded, amount=Money(100), idempotency_key="c", campus=funded.campus)  # 600 left
    alerts = list(OutboxEvent.objects.filter(topic="ledger.low_balance"))
    assert len(alerts) == 1
    assert alerts[0].payload["balance_fen"] == 700
    assert alerts[0].payload["student_id"] == str(funded.pk)
