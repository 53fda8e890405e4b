"""Nutrition subsidy in bulk, transfers between a guardian's children, a student leaving, and
the rebuild command that finds a tampered balance."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.errors import AccountClosed, InvalidAmount, NotYourChild
from canteen.ledger.models import Account, Posting
from canteen.ledger.selectors import balance_of
from canteen.ledger.subsidies import allowance_balance
from canteen.org.choices import Relation, Role
from canteen.org.models import GuardianLink, Student

from .helpers import assert_books_balance

pytestmark = pytest.mark.django_db


def _school_day() -> date:
    day = timezone.localdate()
    while not services.is_school_day(day):
        day -= timedelta(days=1)
    return day


def test_the_bulk_grant_pays_each_programme_student_once_even_when_rerun(world):
    district = world.districts[0]
    Student.objects.filter(campus__school__district=district).update(nutrition_programme=True)
    Student.objects.filter(pk=world.students[0].pk).update(status="left")
    seen = []

    def progress(iterable, total):
        seen.append(total)
        return iterable

    day = _school_day()
    run = services.subsidy_grant_bulk(district=district, day=day, actor=None, progress=progress)
    assert seen == [11]  # 12 students in the district, one has left
    assert run.granted_fen == 11 * 500
    again = services.subsidy_grant_bulk(district=district, day=day, actor=None)
    assert again.granted_fen == 0
    assert Posting.objects.filter(kind="subsidy").count() == 11
    # The allowance is restricted money beside the wallet, not family money in it.
    assert allowance_balance(student=world.students[1]) == Money(500)
    assert balance_of(student=world.students[1]) == Money(0)
    assert allowance_balance(student=world.students[0]) == Money(0)
    assert_books_balance()


def test_no_allowance_on_a_weekend(world):
    saturday = timezone.localdate()
    while saturday.weekday() != 5:
        saturday -= timedelta(days=1)
    with pytest.raises(InvalidAmount):
        services.subsidy_grant_bulk(district=world.districts[0], day=saturday, actor=None)


def test_the_subsidy_command_shows_progress_and_totals(world):
    Student.objects.update(nutrition_programme=True)
    out = StringIO()
    call_command(
        "ledger_subsidy_grant", "--day", _school_day().isoformat(), "--district", world.districts[1].code, stdout=out
    )
    assert "12 人" in out.getvalue()
    assert "¥60.00" in out.getvalue()


@pytest.fixture
def two_children(world):
    guardian_user = world.user(Role.GUARDIAN)
    first = world.students[0]
    second = world.students[1]
    GuardianLink.objects.create(guardian=first.guardian_links.get().guardian, student=second, relation=Relation.MOTHER)
    services.top_up(student=first, amount=Money(3_000), channel="cash", idempotency_key="t", actor=None)
    return guardian_user, first, second


def test_a_guardian_moves_money_between_their_children(two_children):
    guardian_user, first, second = two_children
    posting = services.transfer(
        from_student=first, to_student=second, amount=Money(1_000), actor=guardian_user, idempotency_key="tr"
    )
    again = services.transfer(
        from_student=first, to_student=second, amount=Money(1_000), actor=guardian_user, idempotency_key="tr"
    )
    assert posting.pk == again.pk
    assert (balance_of(student=first), balance_of(student=second)) == (Money(2_000), Money(1_000))
    assert_books_balance()


def test_a_guardian_cannot_move_money_to_a_stranger(two_children, world):
    guardian_user, first, _ = two_children
    with pytest.raises(NotYourChild):
        services.transfer(
            from_student=first,
            to_student=world.students[2],
            amount=Money(100),
            actor=guardian_user,
            idempotency_key="x",
        )
    assert balance_of(student=first) == Money(3_000)


def test_a_student_leaving_gets_the_balance_refunded_and_the_wallet_closed(two_children, world):
    _, first, _ = two_children
    manager = world.user(Role.CANTEEN_MANAGER)
    closure = services.account_close(student=first, actor=manager, idempotency_key="leave", reason="转学")
    assert closure.amount_fen == 3_000
    assert services.account_close(student=first, actor=manager, idempotency_key="leave").pk == closure.pk
    assert Account.objects.get(code=f"refund:{first.campus_id}").shown_fen == 3_000
    with pytest.raises(AccountClosed):
        services.meal_charge(student=first, amount=Money(100), idempotency_key="m", campus=first.campus)
    with pytest.raises(AccountClosed):
        services.top_up(student=first, amount=Money(100), channel="cash", idempotency_key="t2", actor=manager)
    paid = services.refund_paid(student=first, amount=Money(3_000), channel="cash", actor=manager, idempotency_key="p")
    assert paid.kind == "refund_paid"
    assert Account.objects.get(code=f"refund:{first.campus_id}").shown_fen == 0
    assert_books_balance()


def test_rebuild_reports_and_fixes_a_tampered_balance(two_children):
    _, first, _ = two_children
    Account.objects.filter(code=f"wallet:{first.pk}").update(balance_fen=999_999)
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("ledger_rebuild_balances", stdout=out)
    assert f"wallet:{first.pk}" in out.getvalue()
    assert "¥9999.99" in out.getvalue()
    out = StringIO()
    call_command("ledger_rebuild_balances", "--fix", stdout=out)
    assert balance_of(student=first) == Money(3_000)
    out = StringIO()
    call_command("ledger_rebuild_balances", stdout=out)
    assert "0 处差异" in out.getvalue()


def test_staff_cannot_move_money_between_unrelated_students(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    first, stranger = world.students[0], world.students[1]
    services.top_up(student=first, amount=Money(1_000), channel="cash", idempotency_key="t", actor=None)
    with pytest.raises(NotYourChild):
        services.transfer(from_student=first, to_student=stranger, amount=Money(100), actor=admin, idempotency_key="x")
