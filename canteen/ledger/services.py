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
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.events import publish
from canteen.core.money import Money
from canteen.org.models import Campus, Student

from .choices import AccountKind, AccountStatus, Channel, PostingKind
from .errors import (
    AccountClosed,
    AlreadyReversed,
    DailyLimitExceeded,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    PeriodClosed,
)
from .models import Account, Book, Entry, Posting

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


def _account(code: str, kind: str, scope: Scope | None, **defaults: Any) -> AccountRef:
    """Get or create the account with this natural key. Race-free: the unique code decides."""
    ref = _accounts.get(code)
    if ref is not None:
        return ref
    row = Account.objects.filter(code=code).values_list("id", "kind").first()
    if row is None:
        scope_fields = (
            {"campus_id": scope.campus_id, "school_id": scope.school_id, "district_id": scope.district_id}
            if scope
            else {}
        )
        try:
            with transaction.atomic():
                account = Account.objects.create(code=code, kind=kind, **scope_fields, **defaults)
            row = (account.id, account.kind)
        except IntegrityError:
            row = Account.objects.filter(code=code).values_list("id", "kind").get()
    ref = AccountRef(row[0], row[1], code)
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
    defaults: dict[str, Any] = {"name": name or AccountKind(kind).label.split(" ")[0]}
    if owner_id:
        defaults["owner_id"] = owner_id
    if kind == AccountKind.PAYABLE:
        defaults["floor_fen"] = 0  # never pay a supplier more than the invoices recorded
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


def _run(
    *,
    kind: str,
    key: str,
    work: Callable[[], Posting],
    same_request: Callable[[Posting], bool],
    reverses: Posting | None = None,
) -> Posting:
    """Run `work` in a transaction; the same key returns the same posting; retry safe errors."""
    if not key or len(key) > 160:
        raise IdempotencyMismatch(
            "幂等键无效", "The idempotency key is missing or too long", code="idempotency_key_invalid"
        )
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
            log.info("ledger retry %s after %s", attempt + 1, exc)
            time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311 - jitter, not crypto
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


def _apply(leg: Leg, on: date) -> int:
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
    sql = f"UPDATE {table} SET {', '.join(sets)} WHERE {' AND '.join(where)} RETURNING balance_fen"  # noqa: S608 - fixed identifiers
    with connection.cursor() as cursor:
        cursor.execute(sql, set_params + where_params)
        row = cursor.fetchone()
    if row is None:
        _refuse(leg, on)
    return row[0]


def _refuse(leg: Leg, on: date) -> None:
    account = Account.objects.get(pk=leg.account.id)
    amount = -leg.amount_fen
    if account.status != AccountStatus.OPEN:
        raise AccountClosed(details={"account_id": str(account.pk)})
    if account.floor_fen is not None and account.balance_fen + leg.amount_fen < account.floor_fen:
        raise InsufficientFunds(
            details={"balance_fen": account.balance_fen, "amount_fen": amount, "floor_fen": account.floor_fen}
        )
    spent = account.spent_today_fen if account.spent_on == on else 0
    raise DailyLimitExceeded(
        details={"daily_limit_fen": account.daily_limit_fen, "spent_today_fen": spent, "amount_fen": amount}
    )


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
    posting.save(force_insert=True)
    Entry.objects.bulk_create(
        [Entry(posting=posting, account_id=leg.account.id, amount_fen=leg.amount_fen, on=on) for leg in legs]
    )
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
    _check_open(scope.campus_id if scope else None, on)
    for leg in sorted(legs, key=lambda leg: leg.account.id):
        _apply(leg, on)
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


def meal_charge(
    *,
    student: Student,
    amount: Money,
    idempotency_key: str,
    campus: Campus | uuid.UUID,
    actor: Any = None,
    memo: str = "",
    meal_ref: str = "",
) -> Posting:
    """Charge a meal to the student's wallet and credit the campus revenue.

    The same key returns the same posting. Raises InsufficientFunds when the wallet would fall
    below its floor, DailyLimitExceeded past the guardian's limit, AccountClosed, PeriodClosed.
    The posting itself is the audit record (actor, key, memo): one row per meal, not two.
    """
    fen = _positive(amount)
    scope = campus_scope(campus)

    def work() -> Posting:
        wallet = wallet_ref(student)
        revenue = house_ref(AccountKind.REVENUE, scope.campus_id)
        return _post(
            kind=PostingKind.MEAL_CHARGE,
            key=idempotency_key,
            legs=[Leg(wallet, -fen, guard=True, spend_fen=fen), Leg(revenue, fen)],
            amount_fen=fen,
            actor=actor,
            memo=memo,
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
            ref = AccountRef(account.pk, account.kind, account.code)
            # Taking money back out of an account (a wallet or payable) is guarded like any debit.
            guarded = -entry.amount_fen < 0 and account.floor_fen is not None
            spend = (
                -entry.amount_fen
                if (posting.kind == PostingKind.MEAL_CHARGE and account.kind == AccountKind.WALLET)
                else 0
            )
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
    *, student: Student, amount: Money, day: date, actor: Any = None, idempotency_key: str | None = None
) -> Posting:
    """The nutrition programme's daily allowance, credited to the student's wallet for meals."""
    fen = _positive(amount)
    key = idempotency_key or f"subsidy:{student.pk}:{day.isoformat()}"
    scope = campus_scope(student.campus_id)

    def work() -> Posting:
        wallet = wallet_ref(student)
        receivable = house_ref(AccountKind.SUBSIDY, scope.campus_id)
        return _post(
            kind=PostingKind.SUBSIDY,
            key=key,
            legs=[Leg(receivable, -fen), Leg(wallet, fen, guard=True)],
            amount_fen=fen,
            actor=actor,
            memo=f"营养改善计划 {day.isoformat()}",
            on=day,
            scope=scope,
            student=student,
            channel=Channel.INTERNAL,
            event="ledger.subsidy_granted",
        )

    return _run(
        kind=PostingKind.SUBSIDY,
        key=key,
        work=work,
        same_request=lambda p: p.student_id == student.pk and p.amount_fen == fen,
    )


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


def iter_chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def clear_caches() -> None:
    _scopes.clear()
    _accounts.clear()
