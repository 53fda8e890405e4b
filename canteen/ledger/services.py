"""Ledger writes. Every money movement is one balanced Posting made by `_post`.

How a posting is written (and why in this order):
1. INSERT the posting: the unique (kind, idempotency_key) index makes a concurrent duplicate
   wait for the first, then fail; `_run` then returns the first posting (one charge per key).
2. INSERT its entries, and publish the event (same transaction).
3. Check the campus books are open for the posting's date. This runs after the inserts: a period
   close takes a SHARE lock on the entry table, so either the close waited for us, or it
   committed before our check and we see it.
4. Apply each account's delta with one UPDATE (guarded for wallets: status, floor and daily
   limit in the WHERE clause, so a check-then-act race cannot exist). Accounts are updated in
   ascending id order in every posting, so two postings never wait on each other in a cycle.
   Row locks are taken last, which keeps the hot wallet row locked only until the commit.

Serialization failures and deadlocks (PostgreSQL) or a locked database (SQLite) are retried with
backoff when `_run` owns the transaction; inside a caller's transaction they propagate, because
only the owner of a transaction can retry it.

Meal charges, the hot path (~60k in a district's lunch hour), run on PostgreSQL as one call of
the `ledger_meal_charge` function (migration 0003), which does steps 1-4 in the same order in
one round trip: in autocommit the call is the whole transaction. See `_meal_charge_in_db` for
how in-process subscribers and a caller's transaction are served. Other databases, and every
other kind of posting, take the Python path below; tests/test_meal_charge_paths.py holds the
two paths to the same rows, events and errors.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import random
import secrets
import time
import uuid
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.db import client_cursor, fetch_one
from canteen.core.errors import DomainError
from canteen.core.events import Event, publish, subscribers_of
from canteen.core.i18n import pair_of
from canteen.core.money import Money
from canteen.org.choices import Role
from canteen.org.models import Campus, GuardianLink, Student

from .choices import AccountKind, AccountStatus, Channel, PostingKind, TopUpOrderStatus
from .errors import (
    AccountClosed,
    AlreadyReversed,
    DailyLimitExceeded,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    NotYourChild,
    PeriodClosed,
    SignatureInvalid,
)
from .models import (
    DEBIT_NORMAL,
    Account,
    Book,
    Entry,
    PeriodClose,
    Posting,
    ProviderNotification,
    Reconciliation,
    SubsidyRun,
    TopUpOrder,
)
from .providers import provider_for

log = logging.getLogger("canteen.ledger")

MAX_ATTEMPTS = 8
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected

TOPUP_CHANNELS = {
    Channel.ONLINE: AccountKind.PROVIDER,
    Channel.BANK: AccountKind.BANK,
    Channel.CASH: AccountKind.CASH,
}


# ---------------------------------------------------------------------------------------------
# Accounts


@dataclass(frozen=True)
class Scope:
    campus_id: uuid.UUID
    school_id: uuid.UUID
    district_id: uuid.UUID


@dataclass(frozen=True)
class AccountRef:
    """What a posting needs of an account; cached per process (accounts are never deleted)."""

    id: uuid.UUID
    kind: str
    code: str
    tracked: bool = True


_scopes: dict[uuid.UUID, Scope] = {}
_accounts: dict[str, AccountRef] = {}
_CACHE_LIMIT = 200_000


def campus_scope(campus: Campus | uuid.UUID) -> Scope:
    campus_id = campus.pk if isinstance(campus, Campus) else campus
    scope = _scopes.get(campus_id)
    if scope is None:
        school_id, district_id = (
            Campus.objects.filter(pk=campus_id).values_list("school_id", "school__district_id").get()
        )
        scope = _scopes[campus_id] = Scope(campus_id, school_id, district_id)
    return scope


def _remember(ref: AccountRef) -> None:
    if len(_accounts) > _CACHE_LIMIT:
        _accounts.clear()
    _accounts[ref.code] = ref


def _account_row(code: str) -> tuple[Any, ...] | None:
    """(id, kind, tracks_balance) by natural key, in fixed SQL: a checkout asks it for every
    student a process has not charged yet, and the ORM's query building cost more than the
    lookup. SQLite returns the id as hex text and the flag as an integer."""
    with connection.cursor() as cursor:
        cursor.execute(_ACCOUNT_BY_CODE, [code])
        row = cursor.fetchone()
    if row is None:
        return None
    return uuid.UUID(str(row[0])), row[1], bool(row[2])


_ACCOUNT_BY_CODE = f"SELECT id, kind, tracks_balance FROM {Account._meta.db_table} WHERE code = %s"  # noqa: S608 - our table


def _account(code: str, kind: str, scope: Scope | None, **defaults: Any) -> AccountRef:
    """Get or create the account with this natural key. Race-free: the unique code decides."""
    ref = _accounts.get(code)
    if ref is not None:
        return ref
    row = _account_row(code)
    if row is None:
        scope_fields = (
            {"campus_id": scope.campus_id, "school_id": scope.school_id, "district_id": scope.district_id}
            if scope
            else {}
        )
        try:
            with transaction.atomic():
                account = Account.objects.create(code=code, kind=kind, **scope_fields, **defaults)
            row = (account.id, account.kind, account.tracks_balance)
        except IntegrityError:
            row = Account.objects.filter(code=code).values_list("id", "kind", "tracks_balance").get()
    ref = AccountRef(row[0], row[1], code, row[2])
    # Cache only once the row is surely committed: a rolled-back creation must not be remembered.
    transaction.on_commit(lambda: _remember(ref))
    return ref


def wallet_floor_fen() -> int:
    """Lowest wallet balance; a small overdraft can be allowed per deployment."""
    return -int(getattr(settings, "CANTEEN_WALLET_OVERDRAFT_FEN", 0))


def wallet_ref(student: Student) -> AccountRef:
    return _account(
        f"wallet:{student.pk}",
        AccountKind.WALLET,
        campus_scope(student.campus_id),
        student_id=student.pk,
        name=f"{student.name} 餐费账户",
        floor_fen=wallet_floor_fen(),
    )


def wallet_open(*, student: Student) -> Account:
    """The student's wallet, created on first use."""
    return Account.objects.get(pk=wallet_ref(student).id)


def house_ref(
    kind: str, campus: Campus | uuid.UUID, *, owner_id: uuid.UUID | None = None, name: str = ""
) -> AccountRef:
    scope = campus_scope(campus)
    code = f"{kind}:{scope.campus_id}" + (f":{owner_id}" if owner_id else "")
    defaults: dict[str, Any] = {"name": name or pair_of(AccountKind(kind).label)[0]}
    if owner_id:
        defaults["owner_id"] = owner_id
    if kind == AccountKind.PAYABLE:
        defaults["floor_fen"] = 0  # never pay a supplier more than the invoices recorded
    else:
        defaults["tracks_balance"] = False  # see Account.tracks_balance
    return _account(code, kind, scope, **defaults)


# ---------------------------------------------------------------------------------------------
# Posting machinery


@dataclass(frozen=True)
class Leg:
    account: AccountRef
    amount_fen: int  # > 0 credit, < 0 debit
    guard: bool = False  # enforce status, floor (and daily limit when spend_fen is set)
    spend_fen: int = 0  # change to today's meal spending (meal charges and their refunds)


def _is_retryable(exc: BaseException) -> bool:
    state = getattr(exc.__cause__, "sqlstate", None)
    if state in _RETRYABLE_SQLSTATES:
        return True
    return connection.vendor == "sqlite" and "locked" in str(exc)


def _check_key(key: str) -> None:
    if not key or len(key) > 160:
        raise IdempotencyMismatch(
            "幂等键无效", "The idempotency key is missing or too long", code="idempotency_key_invalid"
        )


def _retry_pause(attempt: int, exc: BaseException) -> None:
    log.info("ledger retry %s after %s", attempt + 1, exc)
    time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311 - jitter, not crypto


def _run(
    *,
    kind: str,
    key: str,
    work: Callable[[], Posting],
    same_request: Callable[[Posting], bool],
    reverses: Posting | None = None,
) -> Posting:
    """Run `work` in a transaction; the same key returns the same posting; retry safe errors."""
    _check_key(key)
    nested = connection.in_atomic_block
    for attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                return work()
        except IntegrityError:
            existing = Posting.objects.filter(kind=kind, idempotency_key=key).first()
            if existing is None:
                if reverses is not None and Posting.objects.filter(reverses=reverses).exists():
                    raise AlreadyReversed() from None
                raise
            if not same_request(existing):
                raise IdempotencyMismatch(details={"idempotency_key": key, "posting_id": str(existing.pk)}) from None
            return existing
        except OperationalError as exc:
            if nested or not _is_retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                raise
            _retry_pause(attempt, exc)
    raise AssertionError("unreachable")


def _db_id(pk: uuid.UUID) -> Any:
    return Account._meta.pk.get_db_prep_value(pk, connection)


def _db_date(day: date) -> Any:
    return connection.ops.adapt_datefield_value(day)


def _check_open(campus_id: uuid.UUID | None, on: date) -> None:
    if campus_id is None:
        return
    closed_through = Book.objects.filter(campus_id=campus_id).values_list("closed_through", flat=True).first()
    if closed_through is not None and on <= closed_through:
        raise PeriodClosed(details={"on": on.isoformat(), "closed_through": closed_through.isoformat()})


def _apply(leg: Leg, on: date, open_check: uuid.UUID | None = None) -> tuple[int, int | None]:
    """One UPDATE per account. `open_check` (a campus id) folds the closed-period check into the
    guarded UPDATE, saving a round trip on the hot path."""
    table = Account._meta.db_table
    sets = ["balance_fen = balance_fen + %s"]
    set_params: list[Any] = [leg.amount_fen]
    where = ["id = %s"]
    where_params: list[Any] = [_db_id(leg.account.id)]
    day = _db_date(on)
    if leg.spend_fen > 0:
        sets.append("spent_today_fen = CASE WHEN spent_on = %s THEN spent_today_fen + %s ELSE %s END")
        sets.append("spent_on = %s")
        set_params += [day, leg.spend_fen, leg.spend_fen, day]
    elif leg.spend_fen < 0:
        sets.append("spent_today_fen = CASE WHEN spent_on = %s THEN spent_today_fen + %s ELSE spent_today_fen END")
        set_params += [day, leg.spend_fen]
    if leg.guard:
        where.append("status = %s")
        where.append("(floor_fen IS NULL OR balance_fen + %s >= floor_fen)")
        where_params += [AccountStatus.OPEN, leg.amount_fen]
        if leg.spend_fen > 0:
            where.append(
                "(daily_limit_fen IS NULL OR "
                "(CASE WHEN spent_on = %s THEN spent_today_fen ELSE 0 END) + %s <= daily_limit_fen)"
            )
            where_params += [day, leg.spend_fen]
    if open_check is not None:
        where.append(
            f"NOT EXISTS (SELECT 1 FROM {Book._meta.db_table} b "  # noqa: S608 - fixed identifiers
            "WHERE b.campus_id = %s AND b.closed_through >= %s)"
        )
        where_params += [Book._meta.pk.get_db_prep_value(open_check, connection), day]
    sql = (
        f"UPDATE {table} SET {', '.join(sets)} WHERE {' AND '.join(where)} "  # noqa: S608 - fixed identifiers
        "RETURNING balance_fen, low_balance_alert_fen"
    )
    for _attempt in range(3):
        with connection.cursor() as cursor:
            cursor.execute(sql, set_params + where_params)
            row = cursor.fetchone()
        if row is not None:
            return row[0], row[1]
        _check_open(open_check, on)
        _refuse(leg, on)
        # The guard failed, yet the account now passes it: a concurrent top-up committed between
        # our UPDATE and the read. Try again rather than refuse for a reason that no longer holds.
    raise InsufficientFunds(details={"amount_fen": -leg.amount_fen})


def _refuse(leg: Leg, on: date) -> None:
    """Raise the reason the guarded UPDATE touched no row; return if the account now passes."""
    account = Account.objects.get(pk=leg.account.id)
    amount = -leg.amount_fen
    if account.status != AccountStatus.OPEN:
        raise AccountClosed(details={"account_id": str(account.pk)})
    if account.floor_fen is not None and account.balance_fen + leg.amount_fen < account.floor_fen:
        raise InsufficientFunds(
            details={"balance_fen": account.balance_fen, "amount_fen": amount, "floor_fen": account.floor_fen}
        )
    spent = account.spent_today_fen if account.spent_on == on else 0
    if leg.spend_fen > 0 and account.daily_limit_fen is not None and spent + leg.spend_fen > account.daily_limit_fen:
        raise DailyLimitExceeded(
            details={"daily_limit_fen": account.daily_limit_fen, "spent_today_fen": spent, "amount_fen": amount}
        )


@functools.cache
def _insert_columns(model: type, vendor: str) -> tuple[tuple[Any, ...], str, str]:
    """(fields, "INSERT INTO t (cols) VALUES ", "(%s, ...)") for a model, built once per process."""
    fields = tuple(
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and f.get_default() is None and getattr(f, "db_returning", False))
    )
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    head = f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608 - fixed identifiers
    return fields, head, "(" + ", ".join(["%s"] * len(fields)) + ")"


def _insert(posting: Posting, legs: list[Leg], on: date) -> None:
    """The posting and its entries in one round trip on PostgreSQL. This is the hot path: the
    ORM's save() and bulk_create cost more Python than the database spends on the rows."""
    vendor = connection.vendor
    fields, posting_head, posting_row = _insert_columns(Posting, vendor)
    posting_params = [f.get_db_prep_save(f.pre_save(posting, add=True), connection) for f in fields]
    # Entry columns in model order: posting, account, amount, on (the id is generated).
    entry_fields, entry_head, entry_row = _insert_columns(Entry, vendor)
    if [f.name for f in entry_fields] != ["posting", "account", "amount_fen", "on"]:
        raise AssertionError("Entry columns changed; update _insert")
    posting_id = Posting._meta.pk.get_db_prep_save(posting.pk, connection)
    day = _db_date(on)
    entry_params: list[Any] = []
    # A zero leg (the wallet of a meal paid wholly from the subsidy) is applied, for its guard,
    # but writes no entry.
    legs = [leg for leg in legs if leg.amount_fen]
    for leg in legs:
        entry_params += [posting_id, _db_id(leg.account.id), leg.amount_fen, day]
    entry_sql = entry_head + ", ".join([entry_row] * len(legs))
    with client_cursor() as cursor:  # two statements, one round trip (see core.db)
        if vendor == "postgresql":
            cursor.execute(f"{posting_head}{posting_row}; {entry_sql}", posting_params + entry_params)
        else:
            cursor.execute(posting_head + posting_row, posting_params)
            cursor.execute(entry_sql, entry_params)
    posting._state.adding = False
    posting._state.db = connection.alias


def _post(
    *,
    kind: str,
    key: str,
    legs: list[Leg],
    amount_fen: int,
    actor: Any = None,
    memo: str = "",
    on: date | None = None,
    scope: Scope | None = None,
    student: Student | None = None,
    channel: str = "",
    reference: str = "",
    counterparty_id: uuid.UUID | None = None,
    reverses: Posting | None = None,
    event: str | None = None,
    event_extra: dict[str, Any] | None = None,
) -> Posting:
    if sum(leg.amount_fen for leg in legs) != 0:
        raise AssertionError("a posting must balance")
    on = on or timezone.localdate()
    user = actor if getattr(actor, "pk", None) else None
    posting = Posting(
        kind=kind,
        idempotency_key=key,
        on=on,
        amount_fen=amount_fen,
        memo=memo[:200],
        reverses=reverses,
        actor=user,
        actor_label=(getattr(actor, "username", None) or str(actor or "system"))[:150],
        student=student,
        campus_id=scope.campus_id if scope else None,
        school_id=scope.school_id if scope else None,
        district_id=scope.district_id if scope else None,
        channel=channel,
        reference=reference[:120],
        counterparty_id=counterparty_id,
    )
    _insert(posting, legs, on)
    if event:
        publish(
            event,
            {
                "posting_id": str(posting.pk),
                "campus_id": str(scope.campus_id) if scope else None,
                "school_id": str(scope.school_id) if scope else None,
                "district_id": str(scope.district_id) if scope else None,
                "amount_fen": amount_fen,
                "on": on.isoformat(),
                "student_id": str(student.pk) if student else None,
                **(event_extra or {}),
            },
        )
    campus_id = scope.campus_id if scope else None
    # The period check runs after the inserts (see the module docstring), inside the first
    # guarded UPDATE when there is one.
    checker = next((leg for leg in legs if leg.guard and leg.account.tracked), None)
    if checker is None:
        _check_open(campus_id, on)
    for leg in sorted(legs, key=lambda leg: leg.account.id):
        if not leg.account.tracked:
            continue
        balance, alert = _apply(leg, on, campus_id if leg is checker else None)
        if (
            student is not None
            and leg.account.kind == AccountKind.WALLET
            and leg.account.code == f"wallet:{student.pk}"
        ):
            # Callers (checkout) show the balance after the charge without reading it again.
            posting.balance_after_fen = balance
        # The guardian's low-balance alert fires once, when a debit crosses the threshold.
        if alert is not None and leg.account.kind == AccountKind.WALLET and balance < alert <= balance - leg.amount_fen:
            publish(
                "ledger.low_balance",
                {
                    "account_id": str(leg.account.id),
                    "student_id": str(student.pk) if student else None,
                    "balance_fen": balance,
                    "alert_fen": alert,
                    "posting_id": str(posting.pk),
                },
            )
    return posting


def _positive(amount: Money) -> int:
    if not isinstance(amount, Money) or amount.fen <= 0:
        raise InvalidAmount(details={"amount": str(amount)})
    return amount.fen


def _audit(actor: Any, action: str, posting: Posting, **after: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=posting,
        after={"amount_fen": posting.amount_fen, "kind": posting.kind, "on": posting.on.isoformat(), **after},
        district_id=posting.district_id,
        school_id=posting.school_id,
    )


# ---------------------------------------------------------------------------------------------
# Student money


def allowance_code(student_id: uuid.UUID) -> str:
    """The natural key of a pupil's restricted subsidy balance (ledger_meal_charge builds it too)."""
    return f"allowance:{student_id}"


def allowance_ref(student: Student) -> AccountRef:
    return _account(
        allowance_code(student.pk),
        AccountKind.ALLOWANCE,
        campus_scope(student.campus_id),
        student_id=student.pk,
        name=f"{student.name} 补助余额",
        floor_fen=0,
    )


_ALLOWANCE_FOR_MEAL = (
    f"SELECT id, balance_fen FROM {Account._meta.db_table} "  # noqa: S608 - our table
    "WHERE code = %s AND status = 'open' AND balance_fen > 0"
)


def _allowance_take(student: Student, fen: int) -> tuple[AccountRef | None, int]:
    """The pupil's open subsidy balance and how much of a meal of `fen` it pays, the balance row
    locked (PostgreSQL) so that the amount holds until the commit."""
    sql = _ALLOWANCE_FOR_MEAL + (" FOR UPDATE" if connection.vendor == "postgresql" else "")
    with connection.cursor() as cursor:
        cursor.execute(sql, [allowance_code(student.pk)])
        row = cursor.fetchone()
    if row is None:
        return None, 0
    ref = AccountRef(uuid.UUID(str(row[0])), AccountKind.ALLOWANCE, allowance_code(student.pk))
    return ref, min(int(row[1]), fen)


def meal_charge(
    *,
    student: Student,
    amount: Money,
    idempotency_key: str,
    campus: Campus | uuid.UUID,
    actor: Any = None,
    memo: str = "",
    meal_ref: str = "",
    served_on: date | None = None,
) -> Posting:
    """Charge a meal and credit the campus revenue: the pupil's restricted subsidy balance
    (allowance) pays first, the wallet the rest. The guardian's daily limit counts the family
    money only.

    The same key returns the same posting. Raises InsufficientFunds when the wallet would fall
    below its floor, DailyLimitExceeded past the guardian's limit, AccountClosed, PeriodClosed.
    The posting itself is the audit record (actor, key, memo): one row per meal, not two.

    `served_on` (an offline meal synced later, a backfill) dates the posting on the day the
    meal was served if that day's books are still open, else today (the open period). The
    guardian's daily limit governs today's spending only: a meal already eaten on an earlier
    day is charged without it.
    """
    fen = _positive(amount)
    scope = campus_scope(campus)
    today = timezone.localdate()
    on = today
    if served_on is not None and served_on < today:
        closed_through = Book.objects.filter(campus_id=scope.campus_id).values_list("closed_through", flat=True).first()
        if closed_through is None or served_on > closed_through:
            on = served_on
        else:
            memo = f"{memo}（{served_on.isoformat()} 补记）"
    spend = fen if on == today else 0
    if _db_functions():
        _check_key(idempotency_key)
        wallet = wallet_ref(student)
        revenue = house_ref(AccountKind.REVENUE, scope.campus_id)
        if not revenue.tracked:  # an old database may still cache the revenue balance: Python path
            return _meal_charge_in_db(
                key=idempotency_key,
                fen=fen,
                spend=spend,
                on=on,
                memo=memo,
                actor=actor,
                student=student,
                scope=scope,
                wallet=wallet,
                revenue=revenue,
                meal_ref=meal_ref,
            )

    def work() -> Posting:
        wallet = wallet_ref(student)
        revenue = house_ref(AccountKind.REVENUE, scope.campus_id)
        # Restricted subsidy first, family money for the rest (ledger_meal_charge does the same).
        allowance, take = _allowance_take(student, fen)
        legs = [Leg(wallet, take - fen, guard=True, spend_fen=max(spend - take, 0)), Leg(revenue, fen)]
        if take:
            legs.append(Leg(allowance, -take, guard=True))
        return _post(
            kind=PostingKind.MEAL_CHARGE,
            key=idempotency_key,
            legs=legs,
            amount_fen=fen,
            actor=actor,
            memo=memo,
            on=on,
            scope=scope,
            student=student,
            channel=Channel.TERMINAL,
            reference=meal_ref,
            event="ledger.meal_charged",
        )

    return _run(
        kind=PostingKind.MEAL_CHARGE,
        key=idempotency_key,
        work=work,
        same_request=lambda p: p.student_id == student.pk and p.amount_fen == fen,
    )


# ---------------------------------------------------------------------------------------------
# Meal charges on PostgreSQL: the functions of migration 0003
#
# They do what meal_charge's Python path does through _run and _post, in the same order;
# tests/test_meal_charge_paths.py runs both paths through the same scenarios.

_MEAL_CHARGE_SQL = (
    "SELECT * FROM ledger_meal_charge(%s::uuid, %s::text, %s::date, %s::bigint, %s::bigint, %s::text,"
    " %s::bigint, %s::text, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::text, %s::uuid, %s::uuid,"
    " %s::timestamptz, %s::boolean)"
)
_WALLET_DEBIT_SQL = (
    "SELECT * FROM ledger_wallet_debit(%s::uuid, %s::uuid, %s::date, %s::bigint, %s::bigint, %s::uuid, %s::uuid,"
    " %s::timestamptz)"
)


def _db_functions() -> bool:
    """The PostgreSQL function path; CANTEEN_LEDGER_DB_FUNCTIONS=False forces the Python path
    (the tests compare the two)."""
    return connection.vendor == "postgresql" and getattr(settings, "CANTEEN_LEDGER_DB_FUNCTIONS", True)


def _debit_refused(
    outcome: str, on: date, fen: int, wallet: AccountRef, balance: Any, floor: Any, limit: Any, spent: Any, closed: Any
) -> DomainError:
    """The error _check_open/_refuse would raise for ledger_wallet_debit's outcome and figures."""
    if outcome == "period_closed":
        return PeriodClosed(details={"on": on.isoformat(), "closed_through": closed.isoformat()})
    if outcome == "account_closed":
        return AccountClosed(details={"account_id": str(wallet.id)})
    if outcome == "insufficient_funds":
        return InsufficientFunds(details={"balance_fen": balance, "amount_fen": fen, "floor_fen": floor})
    if outcome == "daily_limit":
        return DailyLimitExceeded(details={"daily_limit_fen": limit, "spent_today_fen": spent, "amount_fen": fen})
    if outcome == "refused":
        return InsufficientFunds(details={"amount_fen": fen})
    raise AssertionError(f"ledger meal charge function returned {outcome!r}")


def _meal_charge_in_db(
    *,
    key: str,
    fen: int,
    spend: int,
    on: date,
    memo: str,
    actor: Any,
    student: Student,
    scope: Scope,
    wallet: AccountRef,
    revenue: AccountRef,
    meal_ref: str,
) -> Posting:
    user = actor if getattr(actor, "pk", None) else None
    label = (getattr(actor, "username", None) or str(actor or "system"))[:150]
    now = timezone.now()
    posting_id = uuid.uuid4()
    memo = memo[:200]
    meal_ref = meal_ref[:120]
    params = (
        posting_id,
        key,
        on,
        fen,
        spend,
        memo,
        user.pk if user is not None else None,
        label,
        student.pk,
        scope.campus_id,
        scope.school_id,
        scope.district_id,
        meal_ref,
        wallet.id,
        revenue.id,
        now,
    )
    charged_handlers = subscribers_of("ledger.meal_charged")
    low_handlers = subscribers_of("ledger.low_balance")

    def replay(pid: uuid.UUID) -> Posting:
        existing = Posting.objects.get(pk=pid)
        if existing.student_id != student.pk or existing.amount_fen != fen:
            raise IdempotencyMismatch(details={"idempotency_key": key, "posting_id": str(existing.pk)})
        return existing

    def notify_charged(event_id: int) -> None:
        # In-process subscribers run in the transaction that wrote the rows, as publish() does.
        if not charged_handlers:
            return
        payload = {
            "posting_id": str(posting_id),
            "campus_id": str(scope.campus_id),
            "school_id": str(scope.school_id),
            "district_id": str(scope.district_id),
            "amount_fen": fen,
            "on": on.isoformat(),
            "student_id": str(student.pk),
        }
        event = Event(id=event_id, topic="ledger.meal_charged", payload=payload, occurred_at=now)
        for handler in charged_handlers:
            handler(event)

    def notify_low(event_id: int | None, balance: int, alert: int) -> None:
        if event_id is None or not low_handlers:
            return
        payload = {
            "account_id": str(wallet.id),
            "student_id": str(student.pk),
            "balance_fen": balance,
            "alert_fen": alert,
            "posting_id": str(posting_id),
        }
        event = Event(id=event_id, topic="ledger.low_balance", payload=payload, occurred_at=now)
        for handler in low_handlers:
            handler(event)

    def posting_of(balance: int) -> Posting:
        posting = Posting(
            id=posting_id,
            created_at=now,
            updated_at=now,
            kind=PostingKind.MEAL_CHARGE,
            idempotency_key=key,
            on=on,
            amount_fen=fen,
            memo=memo,
            reverses=None,
            actor=user,
            actor_label=label,
            student=student,
            campus_id=scope.campus_id,
            school_id=scope.school_id,
            district_id=scope.district_id,
            channel=Channel.TERMINAL,
            reference=meal_ref,
            counterparty_id=None,
        )
        posting._state.adding = False
        posting._state.db = connection.alias
        posting.balance_after_fen = balance
        return posting

    def in_one_call() -> Posting:
        """The function also debits the wallet (and on refusal takes its rows back, so a caller's
        transaction stays usable); subscribers run afterwards, in the same transaction."""
        outcome, pid, balance, alert, event_id, low_event_id, floor, limit, spent, closed, take = fetch_one(
            _MEAL_CHARGE_SQL, (*params, True)
        )
        if outcome == "replay":
            return replay(pid)
        if outcome != "charged":
            raise _debit_refused(outcome, on, fen - (take or 0), wallet, balance, floor, limit, spent, closed)
        posting = posting_of(balance)
        notify_charged(event_id)
        notify_low(low_event_id, balance, alert)
        return posting

    def in_two_calls() -> Posting:
        """Our own transaction with subscribers: rows, subscribers, then the wallet, as _post
        orders them, so the wallet row is not locked while the subscribers work. A refusal
        raises and rolls the transaction back, subscribers' work included."""
        row = fetch_one(_MEAL_CHARGE_SQL, (*params, False))
        outcome, pid, event_id, take = row[0], row[1], row[4], row[10] or 0
        if outcome == "replay":
            return replay(pid)
        if outcome != "inserted":
            raise AssertionError(f"ledger_meal_charge returned {outcome!r}")
        notify_charged(event_id)
        # The function took the subsidy's share already; the wallet pays the rest.
        outcome, balance, alert, low_event_id, floor, limit, spent, closed = fetch_one(
            _WALLET_DEBIT_SQL,
            (wallet.id, scope.campus_id, on, fen - take, max(spend - take, 0), student.pk, posting_id, now),
        )
        if outcome != "charged":
            raise _debit_refused(outcome, on, fen - take, wallet, balance, floor, limit, spent, closed)
        posting = posting_of(balance)
        notify_low(low_event_id, balance, alert)
        return posting

    if connection.in_atomic_block:
        # The caller's transaction: no savepoint (a refusal is a result, not an SQL error), and
        # only its owner can retry a deadlock. The caller holds the wallet lock until its own
        # commit whatever we do, so one call serves.
        return in_one_call()
    for attempt in range(MAX_ATTEMPTS):
        try:
            if charged_handlers or low_handlers:
                with transaction.atomic():
                    return in_two_calls()
            return in_one_call()  # autocommit: the call is the whole transaction
        except OperationalError as exc:
            if not _is_retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                raise
            _retry_pause(attempt, exc)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class MealChargeCall:
    """A meal charge made inside another domain's single database call (consumption's
    `consumption_checkout` calls `ledger_meal_charge` itself): the arguments, the event the
    charge publishes, and how to read its outcome as the Python path would report it."""

    posting_id: uuid.UUID
    key: str
    on: date
    fen: int
    memo: str
    user_id: int | None
    label: str
    student: Student
    scope: Scope
    wallet_id: uuid.UUID | None  # None: not cached in this process; the call looks it up by code
    wallet_code: str
    revenue_id: uuid.UUID
    now: Any

    def event_payload(self) -> dict[str, Any]:
        """`ledger.meal_charged`'s payload, as ledger_meal_charge writes it."""
        return {
            "posting_id": str(self.posting_id),
            "campus_id": str(self.scope.campus_id),
            "school_id": str(self.scope.school_id),
            "district_id": str(self.scope.district_id),
            "amount_fen": self.fen,
            "on": self.on.isoformat(),
            "student_id": str(self.student.pk),
        }

    def refusal(self, outcome: str, balance: Any, floor: Any, limit: Any, spent: Any, closed: Any) -> DomainError:
        wallet = AccountRef(self.wallet_id or uuid.UUID(int=0), AccountKind.WALLET, self.wallet_code)
        return _debit_refused(outcome, self.on, self.fen, wallet, balance, floor, limit, spent, closed)

    def charged(self, wallet_id: uuid.UUID) -> None:
        """The call charged: remember the wallet, as wallet_ref would have."""
        if self.wallet_id is None and wallet_id is not None:
            _remember(AccountRef(wallet_id, AccountKind.WALLET, self.wallet_code))


def meal_charge_call(
    *,
    student: Student,
    amount: Money,
    idempotency_key: str,
    campus: Campus | uuid.UUID,
    actor: Any,
    memo: str,
    meal_ref: str,
) -> MealChargeCall | None:
    """The pieces of `meal_charge` for a charge of today made inside another domain's database
    call, or None when only `meal_charge` itself will do: not PostgreSQL, the functions turned
    off, an old revenue account with a cached balance, or in-process subscribers of the
    low-balance event (the call cannot run them)."""
    if not _db_functions() or subscribers_of("ledger.low_balance"):
        return None
    fen = _positive(amount)
    _check_key(idempotency_key)
    scope = campus_scope(campus)
    revenue = house_ref(AccountKind.REVENUE, scope.campus_id)
    if revenue.tracked:  # an old database may still cache the revenue balance (see meal_charge)
        return None
    code = f"wallet:{student.pk}"  # wallet_ref's code
    cached = _accounts.get(code)
    user = actor if getattr(actor, "pk", None) else None
    return MealChargeCall(
        posting_id=uuid.uuid4(),
        key=idempotency_key,
        on=timezone.localdate(),
        fen=fen,
        memo=memo[:200],
        user_id=user.pk if user is not None else None,
        label=(getattr(actor, "username", None) or str(actor or "system"))[:150],
        student=student,
        scope=scope,
        wallet_id=cached.id if cached is not None else None,
        wallet_code=code,
        revenue_id=revenue.id,
        now=timezone.now(),
    )


def meal_charge_reverse(*, posting: Posting, actor: Any, reason: str, idempotency_key: str) -> Posting:
    """Refund a voided meal: the reverse of its charge, dated in the open period (today)."""
    if posting.kind != PostingKind.MEAL_CHARGE:
        raise InvalidAmount("只能退回餐费", "Only a meal charge can be refunded this way", code="not_a_meal_charge")
    return _reverse(
        posting=posting, actor=actor, reason=reason, idempotency_key=idempotency_key, kind=PostingKind.MEAL_REVERSE
    )


def posting_reverse(*, posting: Posting, actor: Any, reason: str, idempotency_key: str) -> Posting:
    """Correct any posting by its exact reverse, dated in the open period (today)."""
    if posting.reverses_id is not None:
        raise InvalidAmount("冲正记录不能再冲正", "A reversal cannot itself be reversed", code="reversal_of_reversal")
    return _reverse(
        posting=posting, actor=actor, reason=reason, idempotency_key=idempotency_key, kind=PostingKind.REVERSAL
    )


def _reverse(*, posting: Posting, actor: Any, reason: str, idempotency_key: str, kind: str) -> Posting:
    if Posting.objects.filter(reverses=posting).exclude(idempotency_key=idempotency_key).exists():
        raise AlreadyReversed(details={"posting_id": str(posting.pk)})
    scope = Scope(posting.campus_id, posting.school_id, posting.district_id) if posting.campus_id else None

    def work() -> Posting:
        legs = []
        for entry in posting.entries.select_related("account"):
            account = entry.account
            ref = AccountRef(account.pk, account.kind, account.code, account.tracks_balance)
            # Taking money back out of an account (a wallet or payable) is guarded like any debit.
            guarded = -entry.amount_fen < 0 and account.floor_fen is not None
            # A voided meal of today gives its amount back to today's spending limit: the
            # wallet's entry of the charge is negative, and so is this change to the spending.
            todays_meal = posting.kind == PostingKind.MEAL_CHARGE and posting.on == timezone.localdate()
            spend = entry.amount_fen if (todays_meal and account.kind == AccountKind.WALLET) else 0
            legs.append(Leg(ref, -entry.amount_fen, guard=guarded, spend_fen=spend))
        reversal = _post(
            kind=kind,
            key=idempotency_key,
            legs=legs,
            amount_fen=posting.amount_fen,
            actor=actor,
            memo=reason,
            scope=scope,
            student=posting.student,
            channel=posting.channel,
            reference=posting.reference,
            counterparty_id=posting.counterparty_id,
            reverses=posting,
        )
        _audit(actor, f"ledger.{kind}", reversal, reverses=str(posting.pk), reason=reason)
        return reversal

    return _run(
        kind=kind,
        key=idempotency_key,
        work=work,
        same_request=lambda p: p.reverses_id == posting.pk,
        reverses=posting,
    )


def top_up(
    *,
    student: Student,
    amount: Money,
    channel: str,
    idempotency_key: str,
    actor: Any,
    provider_ref: str = "",
) -> Posting:
    """Money in: online (through the payment provider), bank transfer or cash at the office."""
    fen = _positive(amount)
    if channel not in TOPUP_CHANNELS:
        raise InvalidAmount(
            "充值方式无效", "Unknown top-up channel", code="invalid_channel", details={"channel": channel}
        )
    scope = campus_scope(student.campus_id)

    def work() -> Posting:
        wallet = wallet_ref(student)
        source = house_ref(TOPUP_CHANNELS[channel], scope.campus_id)
        # The wallet is guarded so a closed account takes no money (the floor is never hit by a credit).
        posting = _post(
            kind=PostingKind.TOP_UP,
            key=idempotency_key,
            legs=[Leg(source, -fen), Leg(wallet, fen, guard=True)],
            amount_fen=fen,
            actor=actor,
            memo=Channel(channel).label,
            scope=scope,
            student=student,
            channel=channel,
            reference=provider_ref,
            event="ledger.topped_up",
            event_extra={"channel": channel},
        )
        _audit(actor, "ledger.top_up", posting, student_id=str(student.pk), channel=channel)
        return posting

    return _run(
        kind=PostingKind.TOP_UP,
        key=idempotency_key,
        work=work,
        same_request=lambda p: p.student_id == student.pk and p.amount_fen == fen and p.channel == channel,
    )


def subsidy_grant(
    *, student: Student, amount: Money, day: date, actor: Any = None, idempotency_key: str | None = None, **kwargs: Any
) -> Posting:
    """A programme's daily allowance to the pupil's restricted balance: see ledger.subsidies."""
    from .subsidies import subsidy_grant as grant

    return grant(student=student, amount=amount, day=day, actor=actor, idempotency_key=idempotency_key, **kwargs)


# ---------------------------------------------------------------------------------------------
# Suppliers (called by procurement; the ledger knows suppliers only by id and name)


def supplier_invoice_record(
    *,
    supplier_id: uuid.UUID,
    supplier_name: str,
    campus: Campus | uuid.UUID,
    amount: Money,
    reference: str,
    idempotency_key: str,
    actor: Any,
) -> Posting:
    """Food bought on credit: food cost up, payable to the supplier up."""
    fen = _positive(amount)
    scope = campus_scope(campus)

    def work() -> Posting:
        cost = house_ref(AccountKind.FOOD_COST, scope.campus_id)
        payable = house_ref(AccountKind.PAYABLE, scope.campus_id, owner_id=supplier_id, name=f"应付 {supplier_name}")
        posting = _post(
            kind=PostingKind.SUPPLIER_INVOICE,
            key=idempotency_key,
            legs=[Leg(cost, -fen), Leg(payable, fen)],
            amount_fen=fen,
            actor=actor,
            memo=supplier_name,
            scope=scope,
            reference=reference,
            counterparty_id=supplier_id,
        )
        _audit(actor, "ledger.supplier_invoice", posting, supplier_id=str(supplier_id), reference=reference)
        return posting

    return _run(
        kind=PostingKind.SUPPLIER_INVOICE,
        key=idempotency_key,
        work=work,
        same_request=lambda p: p.counterparty_id == supplier_id and p.amount_fen == fen,
    )


def supplier_payment(
    *,
    supplier_id: uuid.UUID,
    supplier_name: str,
    campus: Campus | uuid.UUID,
    amount: Money,
    reference: str,
    idempotency_key: str,
    actor: Any,
) -> Posting:
    """Pay a supplier from the campus bank account; never more than the invoices recorded
    (InsufficientFunds on the payable otherwise)."""
    fen = _positive(amount)
    scope = campus_scope(campus)

    def work() -> Posting:
        payable = house_ref(AccountKind.PAYABLE, scope.campus_id, owner_id=supplier_id, name=f"应付 {supplier_name}")
        bank = house_ref(AccountKind.BANK, scope.campus_id)
        posting = _post(
            kind=PostingKind.SUPPLIER_PAYMENT,
            key=idempotency_key,
            legs=[Leg(payable, -fen, guard=True), Leg(bank, fen)],
            amount_fen=fen,
            actor=actor,
            memo=supplier_name,
            scope=scope,
            channel=Channel.BANK,
            reference=reference,
            counterparty_id=supplier_id,
            event="ledger.supplier_paid",
            event_extra={"supplier_id": str(supplier_id)},
        )
        _audit(actor, "ledger.supplier_payment", posting, supplier_id=str(supplier_id), reference=reference)
        return posting

    return _run(
        kind=PostingKind.SUPPLIER_PAYMENT,
        key=idempotency_key,
        work=work,
        same_request=lambda p: p.counterparty_id == supplier_id and p.amount_fen == fen,
    )


def other_cost_record(
    *, campus: Campus | uuid.UUID, amount: Money, memo: str, idempotency_key: str, actor: Any
) -> Posting:
    """Non-food canteen costs (fuel, utilities, wages) paid from the bank, for the disclosure."""
    fen = _positive(amount)
    scope = campus_scope(campus)

    def work() -> Posting:
        cost = house_ref(AccountKind.OTHER_COST, scope.campus_id)
        bank = house_ref(AccountKind.BANK, scope.campus_id)
        posting = _post(
            kind=PostingKind.OTHER_COST,
            key=idempotency_key,
            legs=[Leg(cost, -fen), Leg(bank, fen)],
            amount_fen=fen,
            actor=actor,
            memo=memo,
            scope=scope,
            channel=Channel.BANK,
        )
        _audit(actor, "ledger.other_cost", posting, memo=memo)
        return posting

    return _run(
        kind=PostingKind.OTHER_COST,
        key=idempotency_key,
        work=work,
        same_request=lambda p: p.campus_id == scope.campus_id and p.amount_fen == fen,
    )


# ---------------------------------------------------------------------------------------------
# Guardians: transfers, refunds, closure, settings


def _check_guardian_may(actor: Any, *students: Student) -> None:
    """A guardian acts only on their own children; staff only within their scope."""
    visible = set(
        Student.objects.visible_to(actor).filter(pk__in=[s.pk for s in students]).values_list("pk", flat=True)
    )
    if len(visible) != len({s.pk for s in students}):
        raise NotYourChild()


def transfer(*, from_student: Student, to_student: Student, amount: Money, actor: Any, idempotency_key: str) -> Posting:
    """Move money between two children of the same guardian (guarded like a charge)."""
    fen = _positive(amount)
    if from_student.pk == to_student.pk:
        raise InvalidAmount("不能转给同一账户", "Cannot transfer to the same wallet", code="same_wallet")
    _check_guardian_may(actor, from_student, to_student)
    # Only between children of one guardian (the acting guardian, for a guardian).
    links = GuardianLink.objects.filter(student__in=[from_student, to_student])
    if getattr(actor, "role", None) == Role.GUARDIAN:
        links = links.filter(guardian__user=actor)
    guardians_of: dict[Any, set[Any]] = {}
    for guardian_id, student_id in links.values_list("guardian_id", "student_id"):
        guardians_of.setdefault(student_id, set()).add(guardian_id)
    if not guardians_of.get(from_student.pk, set()) & guardians_of.get(to_student.pk, set()):
        raise NotYourChild()
    scope = campus_scope(from_student.campus_id)

    def work() -> Posting:
        source = wallet_ref(from_student)
        target = wallet_ref(to_student)
        posting = _post(
            kind=PostingKind.TRANSFER,
            key=idempotency_key,
            legs=[Leg(source, -fen, guard=True), Leg(target, fen, guard=True)],
            amount_fen=fen,
            actor=actor,
            memo=f"{from_student.name} → {to_student.name}",
            scope=scope,
            student=from_student,
            channel=Channel.INTERNAL,
            counterparty_id=to_student.pk,
        )
        _audit(actor, "ledger.transfer", posting, to_student_id=str(to_student.pk))
        return posting

    return _run(
        kind=PostingKind.TRANSFER,
        key=idempotency_key,
        work=work,
        same_request=lambda p: (
            p.student_id == from_student.pk and p.counterparty_id == to_student.pk and p.amount_fen == fen
        ),
    )


def wallet_refund(*, student: Student, amount: Money, actor: Any, reason: str, idempotency_key: str) -> Posting:
    """Give part of a wallet back: the money moves to refunds due until the office pays it out."""
    fen = _positive(amount)
    scope = campus_scope(student.campus_id)

    def work() -> Posting:
        posting = _post(
            kind=PostingKind.REFUND,
            key=idempotency_key,
            legs=[Leg(wallet_ref(student), -fen, guard=True), Leg(house_ref(AccountKind.REFUND, scope.campus_id), fen)],
            amount_fen=fen,
            actor=actor,
            memo=reason,
            scope=scope,
            student=student,
            channel=Channel.INTERNAL,
        )
        _audit(actor, "ledger.refund", posting, student_id=str(student.pk), reason=reason)
        return posting

    return _run(
        kind=PostingKind.REFUND,
        key=idempotency_key,
        work=work,
        same_request=lambda p: p.student_id == student.pk and p.amount_fen == fen,
    )


def refund_paid(
    *, student: Student, amount: Money, channel: str, actor: Any, idempotency_key: str, reference: str = ""
) -> Posting:
    """The office pays a due refund out in cash or by bank transfer."""
    fen = _positive(amount)
    if channel not in (Channel.CASH, Channel.BANK):
        raise InvalidAmount("退款方式无效", "Refunds are paid in cash or by bank", code="invalid_channel")
    scope = campus_scope(student.campus_id)

    def work() -> Posting:
        source = house_ref(AccountKind.CASH if channel == Channel.CASH else AccountKind.BANK, scope.campus_id)
        posting = _post(
            kind=PostingKind.REFUND_PAID,
            key=idempotency_key,
            legs=[Leg(house_ref(AccountKind.REFUND, scope.campus_id), -fen), Leg(source, fen)],
            amount_fen=fen,
            actor=actor,
            memo=Channel(channel).label,
            scope=scope,
            student=student,
            channel=channel,
            reference=reference,
        )
        _audit(actor, "ledger.refund_paid", posting, student_id=str(student.pk))
        return posting

    return _run(
        kind=PostingKind.REFUND_PAID,
        key=idempotency_key,
        work=work,
        same_request=lambda p: p.student_id == student.pk and p.amount_fen == fen,
    )


def account_close(*, student: Student, actor: Any, idempotency_key: str, reason: str = "") -> Posting | None:
    """A student leaves: unspent subsidy goes back to its programmes' funds (never to the family:
    ledger.subsidies), the family's balance to refunds due, and both accounts close, atomically.
    Returns the closure posting of the family money (None when the wallet held nothing). A
    negative balance (an allowed overdraft) must be settled first."""
    scope = campus_scope(student.campus_id)
    existing = Posting.objects.filter(kind=PostingKind.CLOSURE, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing

    def work() -> Posting | None:
        from .subsidies import subsidy_return_for_student

        wallet_id = wallet_ref(student).id
        # The allowance first (locked, returned to its fund, closed), then the wallet: the order
        # a meal charge locks them in.
        subsidy_return_for_student(
            student=student,
            actor=actor,
            idempotency_key=f"{idempotency_key}:subsidy",
            reason=f"离校补助结余退回 {reason}".strip(),
            close=True,
        )
        # Lock the wallet so no charge lands between reading the balance and closing.
        account = Account.objects.select_for_update().get(pk=wallet_id)
        if account.status == AccountStatus.CLOSED:
            return Posting.objects.filter(kind=PostingKind.CLOSURE, student=student).first()
        if account.balance_fen < 0:
            raise InsufficientFunds(
                "账户透支，需先补缴",
                "The wallet is overdrawn; settle it before closing",
                code="overdrawn",
                details={"balance_fen": account.balance_fen},
            )
        posting = None
        if account.balance_fen > 0:
            posting = _post(
                kind=PostingKind.CLOSURE,
                key=idempotency_key,
                legs=[
                    Leg(wallet_ref(student), -account.balance_fen, guard=True),
                    Leg(house_ref(AccountKind.REFUND, scope.campus_id), account.balance_fen),
                ],
                amount_fen=account.balance_fen,
                actor=actor,
                memo=reason or "销户退款",
                scope=scope,
                student=student,
                channel=Channel.INTERNAL,
            )
        Account.objects.filter(pk=wallet_id).update(status=AccountStatus.CLOSED)
        audit_record(
            actor=actor,
            action="ledger.account_close",
            target=account,
            before={"status": AccountStatus.OPEN, "balance_fen": account.balance_fen},
            after={"status": AccountStatus.CLOSED, "refund_fen": account.balance_fen, "reason": reason},
            district_id=scope.district_id,
            school_id=scope.school_id,
        )
        return posting

    nested = connection.in_atomic_block
    for attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as exc:
            if nested or not _is_retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311
    raise AssertionError("unreachable")


# A guardian's daily limit or alert threshold: at most 10,000 yuan, far above any school day.
WALLET_SETTING_MAX_FEN = 1_000_000


def wallet_settings_update(
    *, student: Student, actor: Any, daily_limit: Money | None, low_balance_alert: Money | None
) -> Account:
    """The guardian's daily spending limit and low-balance alert (None clears either)."""
    _check_guardian_may(actor, student)
    for name, value in (("daily_limit_fen", daily_limit), ("low_balance_alert_fen", low_balance_alert)):
        # Bounded: beyond a bigint the database refused it with an OverflowError (a 500).
        if value is not None and not 0 <= value.fen <= WALLET_SETTING_MAX_FEN:
            raise InvalidAmount(
                "金额超出范围", "The amount is out of range", details={name: f"0–{WALLET_SETTING_MAX_FEN}"}
            )
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=wallet_ref(student).id)
        before = {"daily_limit_fen": account.daily_limit_fen, "low_balance_alert_fen": account.low_balance_alert_fen}
        account.daily_limit_fen = daily_limit.fen if daily_limit is not None else None
        account.low_balance_alert_fen = low_balance_alert.fen if low_balance_alert is not None else None
        account.save(update_fields=["daily_limit_fen", "low_balance_alert_fen", "updated_at"])
        audit_record(
            actor=actor,
            action="ledger.wallet_settings",
            target=account,
            before=before,
            after={"daily_limit_fen": account.daily_limit_fen, "low_balance_alert_fen": account.low_balance_alert_fen},
            district_id=account.district_id,
            school_id=account.school_id,
        )
    return account


# ---------------------------------------------------------------------------------------------
# Subsidy in bulk


def is_school_day(day: date, where: Any = None) -> bool:
    """School at `where` (a campus or school) on `day`: schoolcalendar.services.is_school_day.
    Without `where`, whether it is a national working day (no public holiday, or a make-up day)."""
    from canteen.schoolcalendar.services import is_school_day as school_day
    from canteen.schoolcalendar.services import national_working_day

    return school_day(where, day) if where is not None else national_working_day(day)


def nutrition_daily_fen() -> int:
    # 营养改善计划: 5 yuan per student per school day since autumn 2021.
    return int(getattr(settings, "CANTEEN_NUTRITION_DAILY_FEN", 500))


def subsidy_grant_bulk(**kwargs: Any) -> SubsidyRun:
    """Every eligible pupil's allowance for a school day: see ledger.subsidies."""
    from .subsidies import subsidy_grant_bulk as bulk

    return bulk(**kwargs)


# ---------------------------------------------------------------------------------------------
# Closing periods


def _lock_entries_for_close() -> None:
    """Wait for every in-flight posting to finish and hold new ones until the close commits
    (see the module docstring). SQLite serializes writers already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Entry._meta.db_table} IN SHARE MODE")


def period_totals(*, campus_id: uuid.UUID, start: date, end: date) -> dict[str, int]:
    by_kind = dict(
        Entry.objects.filter(account__campus_id=campus_id, on__gte=start, on__lte=end)
        .values_list("account__kind")
        .annotate(total=Sum("amount_fen"))
        .values_list("account__kind", "total")
    )
    meals = Posting.objects.filter(
        campus_id=campus_id, on__gte=start, on__lte=end, kind=PostingKind.MEAL_CHARGE
    ).count()
    voided = Posting.objects.filter(
        campus_id=campus_id, on__gte=start, on__lte=end, kind=PostingKind.MEAL_REVERSE
    ).count()
    totals = {kind: (-v if kind in DEBIT_NORMAL else v) for kind, v in by_kind.items()}
    totals["meals"] = meals - voided
    return totals


def period_close(*, campus: Campus, through: date, actor: Any, period: str = "day") -> PeriodClose:
    """Close the campus books through `through` (a day, or a month's last day for period
    "month"). Nothing can be posted on or before it afterwards."""
    if through > timezone.localdate():
        raise InvalidAmount("不能结未来的账", "Cannot close a future period", code="future_period")
    scope = campus_scope(campus)
    with transaction.atomic():
        _lock_entries_for_close()
        book, _ = Book.objects.select_for_update().get_or_create(campus_id=scope.campus_id)
        if period == "month":
            start = through.replace(day=1)
            last = monthrange(through.year, through.month)[1]
            if through.day != last:
                raise InvalidAmount("月结须到月末", "A month closes on its last day", code="not_month_end")
            if PeriodClose.objects.filter(campus_id=scope.campus_id, period="month", start=start).exists():
                raise PeriodClosed(details={"month": start.isoformat()[:7]})
        else:
            start = (book.closed_through + timedelta(days=1)) if book.closed_through else through
            if book.closed_through and through <= book.closed_through:
                raise PeriodClosed(details={"closed_through": book.closed_through.isoformat()})
        close = PeriodClose.objects.create(
            campus_id=scope.campus_id,
            school_id=scope.school_id,
            district_id=scope.district_id,
            period=period,
            start=start,
            end=through,
            totals=period_totals(campus_id=scope.campus_id, start=start, end=through),
            actor=actor if getattr(actor, "pk", None) else None,
        )
        if book.closed_through is None or through > book.closed_through:
            book.closed_through = through
            book.save(update_fields=["closed_through", "updated_at"])
        audit_record(
            actor=actor,
            action=f"ledger.close_{period}",
            target=close,
            after={"start": start.isoformat(), "end": through.isoformat(), "totals": close.totals},
            district_id=scope.district_id,
            school_id=scope.school_id,
        )
    return close


# ---------------------------------------------------------------------------------------------
# Online top-ups through a payment provider


MAX_TOPUP_FEN = 100_000  # ¥1,000 per online top-up: a school meal wallet, not a bank


def topup_order_create(*, student: Student, amount: Money, actor: Any, provider: str = "demo") -> TopUpOrder:
    """A guardian starts an online top-up; the money is posted only when the provider confirms."""
    fen = _positive(amount)
    if fen > MAX_TOPUP_FEN:
        raise InvalidAmount("单次充值不超过 1000 元", "At most ¥1,000 per top-up", code="amount_too_large")
    _check_guardian_may(actor, student)
    provider_for(provider)
    scope = campus_scope(student.campus_id)
    with transaction.atomic():
        order = TopUpOrder.objects.create(
            out_trade_no=f"CT{timezone.now():%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}",
            provider=provider,
            student=student,
            guardian_user=actor if getattr(actor, "pk", None) else None,
            campus_id=scope.campus_id,
            school_id=scope.school_id,
            district_id=scope.district_id,
            amount_fen=fen,
        )
        audit_record(
            actor=actor,
            action="ledger.topup_order",
            target=order,
            after={"amount_fen": fen, "provider": provider},
            district_id=scope.district_id,
            school_id=scope.school_id,
        )
    return order


def provider_notification_handle(*, provider: str, body: dict[str, Any], signature: str) -> Posting:
    """A provider's payment notification: verified, stored, and posted exactly once however many
    times it is delivered (the provider's transaction id is the idempotency key)."""
    impl = provider_for(provider)
    ok = impl.verify(body, signature)
    if not ok:
        ProviderNotification.objects.create(provider=provider, body=body, signature_ok=False, outcome="bad_signature")
        raise SignatureInvalid()
    with transaction.atomic():
        order = TopUpOrder.objects.select_for_update().filter(out_trade_no=body.get("out_trade_no")).first()
        matches = (
            order is not None
            and body.get("status") == "SUCCESS"
            and body.get("amount_fen") == order.amount_fen
            # A second, different transaction for a paid order must not credit twice.
            and (order.status != TopUpOrderStatus.PAID or order.provider_txn_id == body.get("txn_id"))
        )
        if matches:
            posting = top_up(
                student=order.student,
                amount=Money(order.amount_fen),
                channel=Channel.ONLINE,
                idempotency_key=f"{provider}:{body['txn_id']}",
                actor=order.guardian_user,
                provider_ref=body["txn_id"],
            )
            duplicate = order.status == TopUpOrderStatus.PAID
            if not duplicate:
                TopUpOrder.objects.filter(pk=order.pk).update(
                    status=TopUpOrderStatus.PAID,
                    provider_txn_id=body["txn_id"],
                    posting=posting,
                    paid_at=timezone.now(),
                )
        ProviderNotification.objects.create(
            provider=provider,
            body=body,
            signature_ok=True,
            outcome=("duplicate" if duplicate else "posted") if matches else "rejected",
        )
    if not matches:
        # Stored above as evidence; the provider is told the notification was refused.
        raise InvalidAmount(
            "通知与订单不符",
            "The notification does not match an order",
            code="notification_mismatch",
            details={"out_trade_no": body.get("out_trade_no")},
        )
    return posting


def _parse_yuan(text: str) -> int:
    return Money.from_yuan(text.strip()).fen


def reconciliation_run(
    *, provider: str, day: date, csv_text: str, actor: Any, file_name: str = "", district: Any = None
) -> Reconciliation:
    """Match a provider settlement file against our online top-ups of that day. Mismatches:
    missing_in_ledger (the provider took money we never credited), missing_in_settlement (we
    credited money the provider does not list), amount_differs, duplicate_in_file, bad_row."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    postings = {
        p.reference: p
        for p in Posting.objects.filter(kind=PostingKind.TOP_UP, channel=Channel.ONLINE, on=day).exclude(reference="")
    }
    mismatches: list[dict[str, Any]] = []
    seen: set[str] = set()
    matched = 0
    for number, row in enumerate(rows, start=2):
        txn = (row.get("txn_id") or "").strip()
        try:
            fen = _parse_yuan(row.get("amount_yuan") or "")
        except (ValueError, TypeError):
            mismatches.append({"kind": "bad_row", "line": number, "txn_id": txn})
            continue
        if txn in seen:
            mismatches.append({"kind": "duplicate_in_file", "line": number, "txn_id": txn, "file_fen": fen})
            continue
        seen.add(txn)
        posting = postings.get(txn)
        if posting is None:
            mismatches.append({"kind": "missing_in_ledger", "line": number, "txn_id": txn, "file_fen": fen})
        elif posting.amount_fen != fen:
            mismatches.append(
                {
                    "kind": "amount_differs",
                    "line": number,
                    "txn_id": txn,
                    "file_fen": fen,
                    "ledger_fen": posting.amount_fen,
                    "posting_id": str(posting.pk),
                }
            )
        else:
            matched += 1
    for txn, posting in postings.items():
        if txn not in seen:
            mismatches.append(
                {
                    "kind": "missing_in_settlement",
                    "txn_id": txn,
                    "ledger_fen": posting.amount_fen,
                    "posting_id": str(posting.pk),
                }
            )
    with transaction.atomic():
        rec = Reconciliation.objects.create(
            provider=provider,
            settlement_date=day,
            file_name=file_name[:200],
            rows=len(rows),
            matched=matched,
            mismatches=mismatches,
            district_id=getattr(district, "pk", district),
            actor=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="ledger.reconciliation",
            target=rec,
            after={"rows": len(rows), "matched": matched, "mismatches": len(mismatches)},
            district_id=rec.district_id,
        )
    return rec


# ---------------------------------------------------------------------------------------------
# Rebuild


@dataclass(frozen=True)
class BalanceDifference:
    account_id: uuid.UUID
    code: str
    cached_fen: int
    entries_fen: int


def balances_rebuild(*, fix: bool = False, actor: Any = None) -> list[BalanceDifference]:
    """Compare every cached balance with the sum of its entries; with fix, set it right (under a
    row lock, so a concurrent posting is not lost)."""
    sums = dict(
        Entry.objects.values_list("account_id").annotate(total=Sum("amount_fen")).values_list("account_id", "total")
    )
    differences = []
    tracked = Account.objects.filter(tracks_balance=True)
    for account_id, code, cached in tracked.values_list("id", "code", "balance_fen").iterator():
        if cached != sums.get(account_id, 0):
            differences.append(BalanceDifference(account_id, code, cached, sums.get(account_id, 0)))
    if fix:
        for diff in differences:
            with transaction.atomic():
                account = Account.objects.select_for_update().get(pk=diff.account_id)
                true = Entry.objects.filter(account_id=diff.account_id).aggregate(t=Sum("amount_fen"))["t"] or 0
                Account.objects.filter(pk=diff.account_id).update(balance_fen=true)
                audit_record(
                    actor=actor,
                    action="ledger.balance_rebuilt",
                    target=account,
                    before={"balance_fen": account.balance_fen},
                    after={"balance_fen": true},
                    district_id=account.district_id,
                    school_id=account.school_id,
                )
    return differences


def clear_caches() -> None:
    _scopes.clear()
    _accounts.clear()
