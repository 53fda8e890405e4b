"""The two meal-charge paths agree: the PostgreSQL function `ledger_meal_charge` (one round trip)
and the Python path (SQLite, and PostgreSQL with CANTEEN_LEDGER_DB_FUNCTIONS=False).

Scenario tests run on both paths through the `ledger_path` fixture; the last test replays one
scripted day on each path and compares every row written and every answer given."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from canteen.core import events
from canteen.core.models import OutboxEvent
from canteen.core.money import Money
from canteen.ledger import services, subsidies
from canteen.ledger.choices import AccountKind, AccountStatus, Channel, PostingKind
from canteen.ledger.errors import (
    AccountClosed,
    DailyLimitExceeded,
    IdempotencyMismatch,
    InsufficientFunds,
    PeriodClosed,
)
from canteen.ledger.models import Account, Entry, Posting
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Role

from .helpers import assert_books_balance, crash_at_the_wallet_update

pytestmark = pytest.mark.django_db

PG_ONLY = pytest.mark.skipif(connection.vendor != "postgresql", reason="the function exists on PostgreSQL only")


def _fund(student, fen: int, key: str = "fund") -> None:
    services.top_up(student=student, amount=Money(fen), channel="cash", idempotency_key=key, actor=None)


def _charge(student, fen: int, key: str, **kwargs):
    return services.meal_charge(
        student=student, amount=Money(fen), idempotency_key=key, campus=student.campus_id, **kwargs
    )


def _counts() -> tuple[int, int, int]:
    return Posting.objects.count(), Entry.objects.count(), OutboxEvent.objects.count()


def _wallet(student) -> Account:
    return Account.objects.get(code=f"wallet:{student.pk}")


@pytest.fixture
def recorded(monkeypatch):
    """Record what in-process subscribers of the ledger's meal topics are given, and whether the
    event's row is visible to them (same transaction) when they run."""
    seen: list[tuple[events.Event, bool, bool]] = []

    def record(event: events.Event) -> None:
        row = OutboxEvent.objects.filter(pk=event.id).first()
        seen.append((event, connection.in_atomic_block, row is not None and row.payload == event.payload))

    for topic in ("ledger.meal_charged", "ledger.low_balance"):
        monkeypatch.setitem(events._subscribers, topic, [*events._subscribers.get(topic, []), record])
    return seen


def test_the_function_writes_every_column_of_the_models_it_fills():
    """ledger_meal_charge names its columns in SQL (migration 0003). A field added to one of
    these models must be added there too (a new migration replacing the function)."""
    written = {
        Posting: {
            "id",
            "created_at",
            "updated_at",
            "kind",
            "idempotency_key",
            "on",
            "amount_fen",
            "memo",
            "actor_label",
            "channel",
            "reference",
            "counterparty_id",
            "actor_id",
            "campus_id",
            "district_id",
            "reverses_id",
            "school_id",
            "student_id",
        },
        Entry: {"id", "posting_id", "account_id", "amount_fen", "on"},
        OutboxEvent: {"id", "topic", "payload", "occurred_at", "relayed_at"},
    }
    for model, columns in written.items():
        assert {f.column for f in model._meta.concrete_fields} == columns, model.__name__
    assert (PostingKind.MEAL_CHARGE, Channel.TERMINAL, AccountStatus.OPEN) == ("meal_charge", "terminal", "open")


def test_a_charge_writes_the_posting_entries_and_event(world, ledger_path, recorded):
    student = world.students[0]
    _fund(student, 2000)
    operator = world.user(Role.WINDOW_OPERATOR)
    posting = _charge(student, 650, "m1", actor=operator, memo="午餐", meal_ref="rec-1")

    stored = Posting.objects.get(pk=posting.pk)
    for field in ("kind", "idempotency_key", "on", "amount_fen", "memo", "actor_id", "actor_label", "student_id"):
        assert getattr(posting, field) == getattr(stored, field), field
    for field in ("campus_id", "school_id", "district_id", "channel", "reference", "reverses_id", "counterparty_id"):
        assert getattr(posting, field) == getattr(stored, field), field
    assert (stored.kind, stored.channel, stored.reference, stored.actor_label) == (
        "meal_charge",
        "terminal",
        "rec-1",
        operator.username,
    )
    assert posting.balance_after_fen == 1350
    assert not posting._state.adding
    assert sorted(stored.entries.values_list("account__kind", "amount_fen")) == [("revenue", 650), ("wallet", -650)]
    assert balance_of(student=student) == Money(1350)
    wallet = _wallet(student)
    assert (wallet.spent_on, wallet.spent_today_fen) == (timezone.localdate(), 650)

    event = OutboxEvent.objects.get(topic="ledger.meal_charged")
    assert event.payload == {
        "posting_id": str(posting.pk),
        "campus_id": str(student.campus_id),
        "school_id": str(student.campus.school_id),
        "district_id": str(student.campus.school.district_id),
        "amount_fen": 650,
        "on": timezone.localdate().isoformat(),
        "student_id": str(student.pk),
    }
    [(seen, in_transaction, row_matches)] = recorded
    assert (seen.id, seen.topic, seen.payload) == (event.id, "ledger.meal_charged", event.payload)
    assert in_transaction
    assert row_matches
    assert_books_balance()


def test_a_replay_returns_the_posting_and_charges_once(world, ledger_path):
    student = world.students[0]
    _fund(student, 2000)
    first = _charge(student, 650, "m1")
    before = _counts()
    again = _charge(student, 650, "m1")
    assert again.pk == first.pk
    assert (again.amount_fen, again.student_id) == (650, student.pk)
    assert _counts() == before
    assert balance_of(student=student) == Money(1350)
    with pytest.raises(IdempotencyMismatch) as caught:
        _charge(student, 700, "m1")
    assert caught.value.details == {"idempotency_key": "m1", "posting_id": str(first.pk)}
    with pytest.raises(IdempotencyMismatch):
        _charge(world.students[1], 650, "m1")


def test_insufficient_funds_leaves_no_rows(world, ledger_path):
    student = world.students[0]
    _fund(student, 2000)
    before = _counts()
    with pytest.raises(InsufficientFunds) as caught:
        _charge(student, 2001, "m1")
    assert caught.value.details == {"balance_fen": 2000, "amount_fen": 2001, "floor_fen": 0}
    assert _counts() == before
    assert (_wallet(student).balance_fen, _wallet(student).spent_today_fen) == (2000, 0)
    # The key is free again: the same request succeeds once money arrives.
    _fund(student, 1, "more")
    assert _charge(student, 2001, "m1").amount_fen == 2001


def test_the_daily_limit_counts_todays_meals_only(world, ledger_path):
    student = world.students[0]
    _fund(student, 5000)
    Account.objects.filter(code=f"wallet:{student.pk}").update(
        daily_limit_fen=1000, spent_on=timezone.localdate() - timedelta(days=1), spent_today_fen=900
    )
    _charge(student, 600, "a")  # yesterday's spending does not count
    before = _counts()
    with pytest.raises(DailyLimitExceeded) as caught:
        _charge(student, 500, "b")
    assert caught.value.details == {"daily_limit_fen": 1000, "spent_today_fen": 600, "amount_fen": 500}
    assert _counts() == before
    _charge(student, 400, "c")
    # A meal served yesterday (offline) is charged without today's limit, dated yesterday.
    yesterday = timezone.localdate() - timedelta(days=1)
    late = _charge(student, 700, "d", served_on=yesterday)
    assert late.on == yesterday
    wallet = _wallet(student)
    assert (wallet.balance_fen, wallet.spent_today_fen) == (5000 - 1700, 1000)


def test_a_voided_meal_gives_its_amount_back_to_todays_limit(world, ledger_path):
    """The window voids a meal (the student did not take it): the guardian's daily limit must
    let the student buy that meal again. Found by the property test: the reversal had added
    the amount to today's spending a second time instead of taking it off."""
    student = world.students[0]
    _fund(student, 5000)
    Account.objects.filter(code=f"wallet:{student.pk}").update(daily_limit_fen=600)
    meal = _charge(student, 600, "lunch")
    services.meal_charge_reverse(posting=meal, actor=None, reason="未取餐", idempotency_key="void-lunch")
    assert (_wallet(student).balance_fen, _wallet(student).spent_today_fen) == (5000, 0)
    assert _charge(student, 600, "lunch-again").amount_fen == 600
    assert _wallet(student).spent_today_fen == 600


def test_a_closed_period_refuses_and_an_offline_meal_moves_to_today(world, ledger_path):
    student = world.students[0]
    _fund(student, 5000)
    yesterday = timezone.localdate() - timedelta(days=1)
    services.period_close(campus=student.campus, through=yesterday, actor=None)
    moved = _charge(student, 650, "off", served_on=yesterday, memo="午餐")
    assert moved.on == timezone.localdate()
    assert moved.memo == f"午餐（{yesterday.isoformat()} 补记）"
    services.period_close(campus=student.campus, through=timezone.localdate(), actor=None)
    before = _counts()
    with pytest.raises(PeriodClosed) as caught:
        _charge(student, 650, "today")
    assert caught.value.details == {
        "on": timezone.localdate().isoformat(),
        "closed_through": timezone.localdate().isoformat(),
    }
    assert _counts() == before
    assert _wallet(student).balance_fen == 5000 - 650


def test_a_closed_wallet_refuses(world, ledger_path):
    student = world.students[0]
    _fund(student, 5000)
    Account.objects.filter(code=f"wallet:{student.pk}").update(status="closed")
    before = _counts()
    with pytest.raises(AccountClosed) as caught:
        _charge(student, 650, "m")
    assert caught.value.details == {"account_id": str(_wallet(student).pk)}
    assert _counts() == before


def test_the_low_balance_event_fires_once_with_its_id(world, ledger_path, recorded):
    student = world.students[0]
    _fund(student, 2000)
    Account.objects.filter(code=f"wallet:{student.pk}").update(low_balance_alert_fen=1000)
    _charge(student, 650, "a")  # 1350 left
    crossing = _charge(student, 650, "b")  # 700 left: crosses 1000
    _charge(student, 100, "c")  # 600 left: already below
    [alert] = OutboxEvent.objects.filter(topic="ledger.low_balance")
    assert alert.payload == {
        "account_id": str(_wallet(student).pk),
        "student_id": str(student.pk),
        "balance_fen": 700,
        "alert_fen": 1000,
        "posting_id": str(crossing.pk),
    }
    low = [(event, row_matches) for event, _, row_matches in recorded if event.topic == "ledger.low_balance"]
    assert [(event.id, event.payload, row_matches) for event, row_matches in low] == [(alert.id, alert.payload, True)]
    assert len([event for event, _, _ in recorded if event.topic == "ledger.meal_charged"]) == 3


def test_a_refusal_inside_the_callers_transaction_leaves_it_usable(world, ledger_path):
    """Consumption charges inside its own transaction and carries on after InsufficientFunds
    (a meal already served offline is recorded unpaid)."""
    student, other = world.students[0], world.students[1]
    _fund(student, 500)
    _fund(other, 5000, "fund-other")
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            _charge(student, 650, "short")
        Account.objects.filter(code=f"wallet:{other.pk}").update(daily_limit_fen=100)
        with pytest.raises(DailyLimitExceeded):
            _charge(other, 650, "limit")
        ok = _charge(other, 100, "fits")
        assert Posting.objects.filter(pk=ok.pk).exists()
    assert not Posting.objects.filter(idempotency_key__in=["short", "limit"]).exists()
    assert balance_of(student=other) == Money(4900)
    assert_books_balance()


@PG_ONLY
def test_inside_the_callers_transaction_the_function_adds_no_savepoint(world, settings):
    settings.CANTEEN_LEDGER_DB_FUNCTIONS = True
    student = world.students[0]
    _fund(student, 5000)
    services.house_ref(AccountKind.REVENUE, student.campus_id)  # created beforehand: no savepoint for that
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        _charge(student, 100, "m1")
        with pytest.raises(InsufficientFunds):
            _charge(student, 50_000, "m2")
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if "SAVEPOINT" in sql.upper()], statements
    assert sum("ledger_meal_charge" in sql for sql in statements) == 2


@PG_ONLY
def test_a_failure_inside_the_function_leaves_nothing(world, settings):
    settings.CANTEEN_LEDGER_DB_FUNCTIONS = True
    student = world.students[0]
    _fund(student, 5000)
    before = _counts()
    with pytest.raises(DatabaseError):
        crash_at_the_wallet_update(lambda: _charge(student, 650, "m1"))
    assert _counts() == before
    assert _charge(student, 650, "m1").amount_fen == 650


@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_without_subscribers_or_a_transaction_a_charge_is_one_statement(world, settings, monkeypatch):
    settings.CANTEEN_LEDGER_DB_FUNCTIONS = True
    for topic in ("ledger.meal_charged", "ledger.low_balance"):
        monkeypatch.setitem(events._subscribers, topic, [])
    student = world.students[0]
    _fund(student, 5000)
    _charge(student, 100, "warm")  # account ids are cached from here on
    with CaptureQueriesContext(connection) as queries:
        posting = _charge(student, 100, "m1")
    assert [q["sql"].split("(")[0] for q in queries.captured_queries] == ["SELECT * FROM ledger_meal_charge"]
    assert Posting.objects.filter(pk=posting.pk).exists()
    assert balance_of(student=student) == Money(4800)


@PG_ONLY
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("subscribed", [True, False], ids=["own-transaction", "autocommit"])
def test_outside_a_transaction_refusals_events_and_replays_hold(world, settings, monkeypatch, subscribed):
    """No caller transaction: with subscribers the ledger opens one (rows, subscribers, then the
    wallet); without, the single call in autocommit is the transaction."""
    settings.CANTEEN_LEDGER_DB_FUNCTIONS = True
    seen: list[events.Event] = []
    for topic in ("ledger.meal_charged", "ledger.low_balance"):
        monkeypatch.setitem(events._subscribers, topic, [seen.append] if subscribed else [])
    student = world.students[0]
    _fund(student, 2000)
    Account.objects.filter(code=f"wallet:{student.pk}").update(low_balance_alert_fen=1000, daily_limit_fen=1500)
    before = _counts()
    with pytest.raises(InsufficientFunds) as caught:
        _charge(student, 2500, "big")
    assert caught.value.details == {"balance_fen": 2000, "amount_fen": 2500, "floor_fen": 0}
    assert _counts() == before
    posting = _charge(student, 1200, "lunch")  # 800 left: below the alert
    assert posting.balance_after_fen == 800
    with pytest.raises(DailyLimitExceeded):
        _charge(student, 400, "more")
    assert _charge(student, 1200, "lunch").pk == posting.pk
    stored = {e.topic: e for e in OutboxEvent.objects.filter(topic__startswith="ledger.")}
    assert stored["ledger.low_balance"].payload["posting_id"] == str(posting.pk)
    if subscribed:
        # Subscribers also ran for the refused charges, whose rows and work were rolled back
        # with them (as on the Python path); the committed events are the ones they were given.
        committed = [e for e in seen if OutboxEvent.objects.filter(pk=e.id).exists()]
        assert len(seen) == 4
        assert [(e.topic, e.id, e.payload) for e in committed] == [
            (topic, stored[topic].id, stored[topic].payload) for topic in ("ledger.meal_charged", "ledger.low_balance")
        ]
    assert balance_of(student=student) == Money(800)
    assert_books_balance()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="two writers at once: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_waits_then_replays(world, ledger_path):
    student = world.students[0]
    _fund(student, 5000)
    services.wallet_ref(student)
    inserted = threading.Event()
    release = threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = _charge(student, 650, "dup")
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            inserted.wait(10)
            results["second"] = _charge(student, 650, "dup")
        except Exception as exc:  # asserted below
            results["second"] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    inserted.wait(10)
    waiting = 0
    for _ in range(100):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            waiting = cursor.fetchone()[0]
        if waiting:
            break
        time.sleep(0.05)
    release.set()  # the first commits; the waiting duplicate then returns its posting
    assert waiting == 1
    for t in threads:
        t.join(20)
    assert results["second"].pk == results["first"].pk
    assert Posting.objects.filter(idempotency_key="dup").count() == 1
    assert balance_of(student=student) == Money(5000 - 650)
    assert OutboxEvent.objects.filter(topic="ledger.meal_charged").count() == 1
    assert_books_balance()


# ---------------------------------------------------------------------------------------------
# One scripted day on each path: every row and every answer compared.


def _script(world) -> list[object]:
    a, b, c = world.students[0], world.students[1], world.students[2]
    _fund(a, 3000, "fa")
    _fund(b, 800, "fb")
    _fund(c, 300, "fc")
    subsidies.subsidy_grant(student=c, amount=Money(500), day=date(2026, 11, 3))
    Account.objects.filter(code=f"wallet:{a.pk}").update(daily_limit_fen=2000, low_balance_alert_fen=1200)
    yesterday = timezone.localdate() - timedelta(days=1)
    steps = [
        lambda: _charge(a, 650, "k1", memo="午餐", meal_ref="r1", actor=world.user(Role.WINDOW_OPERATOR)),
        lambda: _charge(a, 650, "k1"),  # replay
        lambda: _charge(a, 700, "k1"),  # key reused
        lambda: _charge(a, 1200, "k2"),  # crosses the alert at 1,150
        lambda: _charge(a, 400, "k3"),  # past the daily limit
        lambda: _charge(a, 400, "k4", served_on=yesterday),  # yesterday, no limit
        lambda: _charge(b, 900, "k5"),  # insufficient
        lambda: _charge(b, 800, "k6", actor="terminal-7"),  # to zero
        # Restricted subsidy first, the wallet the rest (c: 500 subsidy, 300 family money).
        lambda: _charge(c, 650, "k9"),  # 500 subsidy + 150 wallet
        lambda: _charge(c, 200, "k10"),  # no subsidy left, 150 in the wallet: insufficient
        lambda: subsidies.subsidy_grant(student=c, amount=Money(300), day=date(2026, 11, 4)),
        lambda: _charge(c, 200, "k11"),  # wholly from the subsidy, no wallet entry
        lambda: _charge(c, 250, "k12"),  # 100 subsidy + 150 wallet, to zero
        lambda: services.period_close(campus=b.campus, through=yesterday, actor=None),
        lambda: _charge(b, 1, "k7", served_on=yesterday),  # moved to today: insufficient
        lambda: _charge(a, 50, "k8", served_on=yesterday),  # moved to today, with a memo
    ]
    answers: list[object] = []
    for step in steps:
        try:
            result = step()
            answers.append(
                ("ok", result.idempotency_key, result.on, result.memo) if isinstance(result, Posting) else "ok"
            )
        except Exception as exc:
            details = dict(getattr(exc, "details", None) or {})
            if "posting_id" in details:
                details["posting_id"] = Posting.objects.get(pk=details["posting_id"]).idempotency_key
            answers.append((type(exc).__name__, details))
    return answers


def _rows() -> dict[str, object]:
    names = {str(pk): key for pk, key in Posting.objects.values_list("pk", "idempotency_key")}
    names |= {str(pk): code for pk, code in Account.objects.values_list("pk", "code")}

    def named(payload: dict) -> dict:
        return {k: (names.get(v, v) if k in ("posting_id", "account_id") else v) for k, v in payload.items()}

    return {
        "postings": sorted(
            Posting.objects.values_list(
                "kind",
                "idempotency_key",
                "on",
                "amount_fen",
                "memo",
                "actor_id",
                "actor_label",
                "student_id",
                "campus_id",
                "school_id",
                "district_id",
                "channel",
                "reference",
                "counterparty_id",
                "reverses_id",
            )
        ),
        "entries": sorted(Entry.objects.values_list("posting__idempotency_key", "account__code", "amount_fen", "on")),
        "events": [(e.topic, named(e.payload)) for e in OutboxEvent.objects.order_by("id")],
        "accounts": list(
            Account.objects.order_by("code").values_list(
                "code", "balance_fen", "spent_on", "spent_today_fen", "status", "floor_fen"
            )
        ),
    }


@PG_ONLY
def test_both_paths_write_the_same_rows_and_give_the_same_answers(world, settings):
    outcomes = {}
    for path in ("python", "db"):
        settings.CANTEEN_LEDGER_DB_FUNCTIONS = path == "db"
        services.clear_caches()
        sid = transaction.savepoint()
        try:
            answers = _script(world)
            outcomes[path] = (answers, _rows())
            assert_books_balance()
        finally:
            transaction.savepoint_rollback(sid)
    python_answers, python_rows = outcomes["python"]
    db_answers, db_rows = outcomes["db"]
    assert db_answers == python_answers
    assert python_answers[2][0] == "IdempotencyMismatch"  # the script does reach its refusals
    assert [a[0] for a in python_answers if isinstance(a, tuple)].count("InsufficientFunds") == 3
    assert ("allowance:" + str(world.students[2].pk), 0) in [(c, b) for c, b, *_ in python_rows["accounts"]]
    assert db_rows == python_rows
