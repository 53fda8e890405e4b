"""Random sequences of ledger operations, including duplicates, replays and failures half-way
through a transaction, keep the books' invariants:
- every posting balances;
- every cached balance equals the sum of its entries;
- no wallet is ever below its floor (zero);
- one posting per (kind, idempotency key), and replaying a request changes nothing;
- what failed left no trace;
- restricted subsidy (the allowance) pays a meal first and only meals; the wallet the rest.
The expected wallet and allowance balances are tracked by a plain Python model beside the database."""

from __future__ import annotations

from datetime import date
from unittest import mock

import pytest
from django.db import DatabaseError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canteen.core.money import Money
from canteen.ledger import services, subsidies
from canteen.ledger.errors import (
    AlreadyReversed,
    DailyLimitExceeded,
    IdempotencyMismatch,
    InsufficientFunds,
)
from canteen.ledger.models import Account, Posting
from canteen.ledger.selectors import balance_of
from canteen.ledger.subsidies import allowance_balance
from canteen.org.choices import Relation
from canteen.org.models import GuardianLink, User

from .helpers import assert_books_balance, crash_at_the_wallet_update

pytestmark = pytest.mark.django_db

GRANT_DAY = date(2026, 11, 3)

STUDENTS = 3
amounts = st.integers(min_value=1, max_value=3000)
keys = st.integers(min_value=0, max_value=12).map(lambda n: f"k{n}")
who = st.integers(min_value=0, max_value=STUDENTS - 1)

operations = st.one_of(
    st.tuples(st.just("top_up"), who, amounts, keys),
    st.tuples(st.just("charge"), who, amounts, keys),
    st.tuples(st.just("charge"), who, amounts, keys),
    st.tuples(st.just("reverse"), st.integers(0, 20), keys),
    st.tuples(st.just("transfer"), who, who, amounts, keys),
    st.tuples(st.just("limit"), who, st.one_of(st.none(), st.integers(0, 4000))),
    st.tuples(st.just("crash_after_charge"), who, amounts, keys),
    st.tuples(st.just("crash_mid_posting"), st.sampled_from(["top_up", "charge", "transfer"]), who, amounts, keys),
    st.tuples(st.just("replay"), st.integers(0, 30)),
    st.tuples(st.just("grant"), who, amounts, keys),
)


class Crash(Exception):
    """A failure half-way: the process dies, the connection drops, a caller's later step fails."""


class Model:
    def __init__(self) -> None:
        self.balance = [0] * STUDENTS
        self.allowance = [0] * STUDENTS  # restricted subsidy
        self.spent = [0] * STUDENTS
        self.limit: list[int | None] = [None] * STUDENTS
        self.used: dict[tuple[str, str], tuple] = {}  # (kind, key) -> request
        self.ids: dict[tuple[str, str], object] = {}
        self.charges: list[tuple[object, int, int, int]] = []  # (posting, student, family part, subsidy part)
        self.reversed: dict[object, str] = {}  # charge posting id -> reversal key
        self.done: list[tuple] = []  # successful requests, replayable


def _run_sequence(world, admin, ops) -> None:
    in_db = services._db_functions()
    students = world.students[:STUDENTS]
    campus_of = [s.campus for s in students]
    model = Model()

    def charge(i, fen, key):
        return services.meal_charge(student=students[i], amount=Money(fen), idempotency_key=key, campus=campus_of[i])

    def top_up(i, fen, key):
        return services.top_up(student=students[i], amount=Money(fen), channel="cash", idempotency_key=key, actor=admin)

    def grant(i, fen, key):
        # A Tuesday without holiday: a school day in a district that has entered no terms.
        return subsidies.subsidy_grant(student=students[i], amount=Money(fen), day=GRANT_DAY, idempotency_key=key)

    def transfer(i, j, fen, key):
        return services.transfer(
            from_student=students[i], to_student=students[j], amount=Money(fen), actor=admin, idempotency_key=key
        )

    def expect_request(kind, key, request):
        """None when new, 'same' for a replay, 'mismatch' for a reused key."""
        previous = model.used.get((kind, key))
        if previous is None:
            return None
        return "same" if previous == request else "mismatch"

    def do(op):  # noqa: C901 - one branch per operation keeps the model readable
        name = op[0]
        if name == "top_up":
            _, i, fen, key = op
            seen = expect_request("top_up", key, (i, fen))
            if seen == "mismatch":
                with pytest.raises(IdempotencyMismatch):
                    top_up(i, fen, key)
                return
            posting = top_up(i, fen, key)
            if seen == "same":
                assert posting.pk == model.ids[("top_up", key)]
                return
            model.balance[i] += fen
            model.used[("top_up", key)] = (i, fen)
            model.ids[("top_up", key)] = posting.pk
            model.done.append(op)
        elif name == "charge":
            _, i, fen, key = op
            seen = expect_request("charge", key, (i, fen))
            if seen == "mismatch":
                with pytest.raises(IdempotencyMismatch):
                    charge(i, fen, key)
                return
            if seen == "same":
                assert charge(i, fen, key).pk == model.ids[("charge", key)]
                return
            take = min(model.allowance[i], fen)  # the subsidy pays first
            rest = fen - take
            if model.balance[i] - rest < 0:
                with pytest.raises(InsufficientFunds):
                    charge(i, fen, key)
                return
            if model.limit[i] is not None and model.spent[i] + rest > model.limit[i]:
                with pytest.raises(DailyLimitExceeded):
                    charge(i, fen, key)
                return
            posting = charge(i, fen, key)
            model.balance[i] -= rest
            model.allowance[i] -= take
            model.spent[i] += rest
            model.used[("charge", key)] = (i, fen)
            model.ids[("charge", key)] = posting.pk
            model.charges.append((posting, i, rest, take))
            model.done.append(op)
        elif name == "reverse":
            _, n, key = op
            if not model.charges:
                return
            posting, i, fen, take = model.charges[n % len(model.charges)]
            previous_key = model.reversed.get(posting.pk)
            seen = expect_request("reverse", key, (posting.pk,))

            def call():
                return services.meal_charge_reverse(posting=posting, actor=admin, reason="void", idempotency_key=key)

            if seen == "mismatch":
                with pytest.raises((IdempotencyMismatch, AlreadyReversed)):
                    call()
                return
            if previous_key is not None and previous_key != key:
                with pytest.raises(AlreadyReversed):
                    call()
                return
            reversal = call()
            if seen == "same":
                assert reversal.pk == model.ids[("reverse", key)]
                return
            model.balance[i] += fen
            model.allowance[i] += take
            model.spent[i] -= fen
            model.reversed[posting.pk] = key
            model.used[("reverse", key)] = (posting.pk,)
            model.ids[("reverse", key)] = reversal.pk
        elif name == "transfer":
            _, i, j, fen, key = op
            if i == j:
                return
            seen = expect_request("transfer", key, (i, j, fen))
            if seen == "mismatch":
                with pytest.raises(IdempotencyMismatch):
                    transfer(i, j, fen, key)
                return
            if seen == "same":
                assert transfer(i, j, fen, key).pk == model.ids[("transfer", key)]
                return
            if model.balance[i] - fen < 0:
                with pytest.raises(InsufficientFunds):
                    transfer(i, j, fen, key)
                return
            posting = transfer(i, j, fen, key)
            model.balance[i] -= fen
            model.balance[j] += fen
            model.used[("transfer", key)] = (i, j, fen)
            model.ids[("transfer", key)] = posting.pk
            model.done.append(op)
        elif name == "grant":
            _, i, fen, key = op
            seen = expect_request("grant", key, (i, fen))
            if seen == "mismatch":
                with pytest.raises(IdempotencyMismatch):
                    grant(i, fen, key)
                return
            posting = grant(i, fen, key)
            if seen == "same":
                assert posting.pk == model.ids[("grant", key)]
                return
            model.allowance[i] += fen
            model.used[("grant", key)] = (i, fen)
            model.ids[("grant", key)] = posting.pk
            model.done.append(op)
        elif name == "limit":
            _, i, limit = op
            services.wallet_settings_update(
                student=students[i],
                actor=admin,
                daily_limit=None if limit is None else Money(limit),
                low_balance_alert=None,
            )
            model.limit[i] = limit
        elif name == "crash_after_charge":
            # Checkout charges, then its own next step fails: the caller's transaction rolls back.
            _, i, fen, key = op
            if ("charge", key) in model.used or model.balance[i] < fen:
                return
            if model.limit[i] is not None and model.spent[i] + fen > model.limit[i]:
                return

            def checkout_then_fail():
                with transaction.atomic():
                    charge(i, fen, key)
                    raise Crash()

            with pytest.raises(Crash):
                checkout_then_fail()
        elif name == "crash_mid_posting":
            # The failure strikes inside the posting: after its rows and event are written, at the
            # last balance UPDATE (for a transfer, after the first wallet was already updated).
            _, what, i, fen, key = op
            if what == "charge" and in_db:
                # Inside ledger_meal_charge: a trigger fails the wallet UPDATE after the inserts.
                if ("charge", key) in model.used:
                    return
                with pytest.raises((DatabaseError, InsufficientFunds, DailyLimitExceeded)):
                    crash_at_the_wallet_update(lambda: charge(i, fen, key))
                return
            real_apply = services._apply
            calls = []
            crash_at = 2 if what == "transfer" else 1

            def failing_apply(*args, **kwargs):
                calls.append(args)
                if len(calls) == crash_at:
                    raise Crash()
                return real_apply(*args, **kwargs)

            kind = {"top_up": "top_up", "charge": "charge", "transfer": "transfer"}[what]
            if (kind, key) in model.used:
                return
            j = (i + 1) % STUDENTS
            with (
                mock.patch.object(services, "_apply", failing_apply),
                pytest.raises((Crash, InsufficientFunds, DailyLimitExceeded)),
            ):
                {
                    "top_up": lambda: top_up(i, fen, key),
                    "charge": lambda: charge(i, fen, key),
                    "transfer": lambda: transfer(i, j, fen, key),
                }[what]()
        elif name == "replay":
            _, n = op
            if model.done:
                before = (list(model.balance), list(model.allowance))
                do(model.done[n % len(model.done)])
                assert (model.balance, model.allowance) == before

    for op in ops:
        do(op)
        for i, student in enumerate(students):
            assert balance_of(student=student) == Money(model.balance[i]), (op, i)
            assert allowance_balance(student=student) == Money(model.allowance[i]), (op, i)
    assert_books_balance()
    for kind, key in model.used:
        pkind = {
            "top_up": "top_up",
            "charge": "meal_charge",
            "reverse": "meal_reverse",
            "transfer": "transfer",
            "grant": "subsidy",
        }[kind]
        assert Posting.objects.filter(kind=pkind, idempotency_key=key).count() == 1
    assert Posting.objects.count() == len(model.used)
    assert not Account.objects.filter(kind__in=["wallet", "allowance"], balance_fen__lt=0).exists()


@pytest.fixture
def admin(world):
    # The students are siblings (one guardian), so transfers between them are allowed.
    guardian = world.students[0].guardian_links.get().guardian
    for sibling in world.students[1:STUDENTS]:
        GuardianLink.objects.create(guardian=guardian, student=sibling, relation=Relation.MOTHER)
    return User.objects.create_superuser("ledger-admin", password="x")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=30))
def test_random_operation_sequences_keep_the_invariants(world, admin, ledger_path, ops):
    # Each example runs in a savepoint that is rolled back, so examples start from empty books.
    sid = transaction.savepoint()
    try:
        _run_sequence(world, admin, ops)
    finally:
        transaction.savepoint_rollback(sid)
