"""Daily and monthly close: a closed period takes no postings; corrections land in the open one."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from canteen.core.models import AuditEvent
from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.errors import PeriodClosed
from canteen.ledger.models import Book, PeriodClose, Posting
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def _nutrition_day_before(today: date) -> date:
    day = today - timedelta(days=1)
    while not services.is_school_day(day):
        day -= timedelta(days=1)
    return day


def test_a_closed_day_refuses_postings_and_a_correction_is_dated_today(world):
    manager = world.user(Role.CANTEEN_MANAGER)
    student = world.students[0]
    campus = student.campus
    today = timezone.localdate()
    day = _nutrition_day_before(today)
    grant = services.subsidy_grant(student=student, amount=Money(500), day=day)
    close = services.period_close(campus=campus, through=day, actor=manager)
    assert close.totals["allowance"] == 500  # restricted subsidy, not family money
    assert Book.objects.get(campus=campus).closed_through == day
    assert AuditEvent.objects.filter(action="ledger.close_day").exists()

    other = world.students[1]  # same campus
    with pytest.raises(PeriodClosed):
        services.subsidy_grant(student=other, amount=Money(500), day=day)
    assert not Posting.objects.filter(student=other).exists()

    correction = services.posting_reverse(posting=grant, actor=manager, reason="名单有误", idempotency_key="fix-1")
    assert correction.on == today
    assert correction.reverses_id == grant.pk
    # The closed day's frozen totals are untouched; the correction is in today's figures.
    assert PeriodClose.objects.get(pk=close.pk).totals["allowance"] == 500


def test_closing_cannot_go_backwards_or_into_the_future(world):
    campus = world.campuses[0]
    today = timezone.localdate()
    services.period_close(campus=campus, through=today - timedelta(days=1), actor=None)
    with pytest.raises(PeriodClosed):
        services.period_close(campus=campus, through=today - timedelta(days=3), actor=None)
    from canteen.ledger.errors import InvalidAmount

    with pytest.raises(InvalidAmount):
        services.period_close(campus=campus, through=today + timedelta(days=1), actor=None)


def test_a_month_close_freezes_the_month_totals(world):
    student = world.students[0]
    today = timezone.localdate()
    last_of_previous = today.replace(day=1) - timedelta(days=1)
    first_of_previous = last_of_previous.replace(day=1)
    day = first_of_previous
    while not services.is_school_day(day):
        day += timedelta(days=1)
    services.subsidy_grant(student=student, amount=Money(500), day=day)
    close = services.period_close(campus=student.campus, through=last_of_previous, actor=None, period="month")
    assert (close.start, close.end) == (first_of_previous, last_of_previous)
    assert close.totals["subsidy"] == 500
    with pytest.raises(PeriodClosed):
        services.subsidy_grant(student=world.students[1], amount=Money(500), day=day)


def test_other_campuses_stay_open(world):
    today = timezone.localdate()
    day = _nutrition_day_before(today)
    services.period_close(campus=world.campuses[0], through=day, actor=None)
    far = world.students[-1]
    assert services.subsidy_grant(student=far, amount=Money(500), day=day).on == day


def test_the_finance_page_closes_a_day(world, client):
    client.force_login(world.user(Role.CANTEEN_MANAGER))
    campus = world.campuses[0]
    today = timezone.localdate()
    response = client.post(
        "/ledger/finance/close/", {"campus": campus.pk, "through": today.isoformat(), "period": "day"}
    )
    assert response.status_code == 302
    assert Book.objects.get(campus=campus).closed_through == today
    page = client.get("/ledger/finance/").content.decode()
    assert str(today) in page
    # A guardian has no business here.
    client.force_login(world.user(Role.GUARDIAN))
    assert client.get("/ledger/finance/").status_code == 403


def test_the_school_office_records_cash_once_and_closes_a_leaving_students_wallet(world, client):
    from canteen.ledger.selectors import balance_of

    client.force_login(world.user(Role.CANTEEN_MANAGER))
    student = world.students[0]
    form = {
        "campus": student.campus_id,
        "student_number": student.student_number,
        "amount": "120.50",
        "channel": "cash",
        "token": "form-1",
    }
    client.post("/ledger/finance/top-up/", form)
    client.post("/ledger/finance/top-up/", form)  # a double click
    assert balance_of(student=student) == Money(12_050)
    far = world.students[-1]  # another school: not this manager's
    client.post("/ledger/finance/top-up/", dict(form, student_number=far.student_number, campus="", token="form-2"))
    assert balance_of(student=far) == Money(0)
    client.post(
        "/ledger/finance/close-account/", {"student_number": student.student_number, "reason": "转学", "token": "c1"}
    )
    assert balance_of(student=student) == Money(0)
    assert Posting.objects.get(kind="closure").amount_fen == 12_050


def test_a_month_is_closed_once(world):
    today = timezone.localdate()
    last_of_previous = today.replace(day=1) - timedelta(days=1)
    services.period_close(campus=world.campuses[0], through=last_of_previous, actor=None, period="month")
    with pytest.raises(PeriodClosed):
        services.period_close(campus=world.campuses[0], through=last_of_previous, actor=None, period="month")
