"""Checkout at the serving window, and the terminals that do it.

`checkout_record` is check-then-do inside one transaction (zulip's `check_*`/`do_*` split):

1. check what needs no lock: enrolled, this campus, face consent for face, a meal offered at `at`;
2. lock the student (a transaction-scoped advisory lock on PostgreSQL; SQLite's IMMEDIATE
   transactions already serialize writers) and, in the same round trip, read this key's record
   and the student's servings of the session;
3. replay: a key already recorded returns that record (the terminal retries after a crash or a
   lost response; the ledger's own (kind, key) constraint is the second guard); else check the
   per-session limit;
4. do: charge through `ledger.services.meal_charge` (its guarded UPDATE refuses an overdraft),
   insert the record, complete (a unique (student, day, session, serving_no) is the database's
   own refusal of a double serving), audit, publish `consumption.meal_served`.

Lock order is advisory(student) → ledger wallet row, the same for every path, so concurrent
checkouts queue instead of deadlocking.

On PostgreSQL, steps 2-4 of a charged meal of today are one call, `consumption_checkout`, with
the rows built here (see "checkout in one database call" below); the Python path does the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from canteen.core.audit import audit_event, audit_record
from canteen.core.db import client_cursor, fetch_one, insert_row, row_json
from canteen.core.errors import DomainError
from canteen.core.events import prepare_subscribers, publish
from canteen.core.models import AuditEvent
from canteen.core.money import Money
from canteen.org.choices import StudentStatus
from canteen.org.models import ServingWindow, Student

from .errors import (
    AlreadyServed,
    CheckoutExpired,
    FaceConsentMissing,
    InsufficientBalance,
    KeyBelongsToAnotherCheckout,
    NoMealOffered,
    NotAllowedAtWindow,
    RecordAlreadyVoided,
    StudentNotEnrolled,
    TerminalInactive,
    UnknownStudent,
    WrongCampus,
)
from .models import ChargeStatus, MealRecord, MealRecordTransition, Method, RecordStatus, Terminal

TOKEN_PREFIX = "ct"  # noqa: S105 - a label before the secret, not a secret

_METHODS = frozenset(Method.values)

# served → voided is the only move: a served meal is corrected by voiding it (which reverses
# the charge), never by editing it.
RECORD_MOVES: dict[str, frozenset[str]] = {
    RecordStatus.SERVED: frozenset({RecordStatus.VOIDED}),
    RecordStatus.VOIDED: frozenset(),
}


# -- terminals -----------------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


@transaction.atomic
def terminal_register(
    *,
    window: ServingWindow,
    actor: Any,
    name: str = "",
    code: str = "",
    offline_limit_fen: int = 3000,
    offline_total_limit_fen: int = 300_000,
) -> tuple[Terminal, str]:
    """Register a device at a window. Returns the terminal and its API token, shown only now."""
    campus = window.canteen.campus
    prefix, token = _new_token()
    terminal = Terminal.objects.create(
        window=window,
        campus=campus,
        name=name or f"{window.name}终端",
        code=code or f"{window.code}-T{secrets.token_hex(2)}",
        token_prefix=prefix,
        token_hash=_hash_token(token),
        offline_limit_fen=offline_limit_fen,
        offline_total_limit_fen=offline_total_limit_fen,
        registered_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="consumption.terminal_registered",
        target=terminal,
        after={"window": str(window.pk), "offline_limit_fen": offline_limit_fen},
        district_id=campus.school.district_id,
        school_id=campus.school_id,
    )
    return terminal, token


@transaction.atomic
def terminal_rotate_token(*, terminal: Terminal, actor: Any) -> str:
    prefix, token = _new_token()
    terminal.token_prefix = prefix
    terminal.token_hash = _hash_token(token)
    terminal.save(update_fields=["token_prefix", "token_hash", "updated_at"])
    _forget_terminal(terminal)
    audit_record(actor=actor, action="consumption.terminal_token_rotated", target=terminal)
    return token


@transaction.atomic
def terminal_deactivate(*, terminal: Terminal, actor: Any) -> Terminal:
    terminal.is_active = False
    terminal.save(update_fields=["is_active", "updated_at"])
    _forget_terminal(terminal)
    audit_record(actor=actor, action="consumption.terminal_deactivated", target=terminal, after={"is_active": False})
    return terminal


# Terminals authenticate on every checkout; the row changes only when a manager registers,
# rotates or deactivates one. Each process keeps what it read for TERMINAL_CACHE_SECONDS: a
# deactivation or rotation takes effect at once in the process that made it and within that
# time everywhere else.
TERMINAL_CACHE_SECONDS = 10.0
_terminals: dict[str, tuple[float, Terminal]] = {}


def terminal_authenticate(*, token: str) -> Terminal | None:
    """The terminal a token belongs to, or None. Constant-time comparison of the hash."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    digest = _hash_token(token)
    cached = _terminals.get(digest)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    terminal = (
        Terminal.objects.select_related("window__canteen__campus__school", "campus__school")
        .filter(token_prefix=parts[1])
        .first()
    )
    if terminal is None or not hmac.compare_digest(terminal.token_hash, digest):
        return None
    if len(_terminals) > 10_000:
        _terminals.clear()
    _terminals[digest] = (time.monotonic() + TERMINAL_CACHE_SECONDS, terminal)
    return terminal


def _forget_terminal(terminal: Terminal) -> None:
    for digest, (_until, cached) in list(_terminals.items()):
        if cached.pk == terminal.pk:
            _terminals.pop(digest, None)


def terminal_touch(*, terminal: Terminal, gallery_version: str | None = None) -> None:
    """Heartbeat: when it was last seen and which gallery it holds (for the manager's page)."""
    fields: dict[str, Any] = {"last_seen_at": timezone.now()}
    if gallery_version is not None:
        fields["last_gallery_version"] = str(gallery_version)[:64]
    Terminal.objects.filter(pk=terminal.pk).update(**fields)


def terminal_gallery_fetched(*, terminal: Terminal, version: str) -> None:
    audit_record(
        actor=f"terminal:{terminal.code}",  # the device, not "system"
        action="consumption.gallery_fetched",
        target=terminal,
        target_label=f"terminal:{terminal.code}",
        after={"gallery_version": version},
        school_id=terminal.campus.school_id,
    )


# -- checkout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutResult:
    record: MealRecord
    balance_after: Money | None
    replayed: bool


def _student_lock_key(student_id: uuid.UUID) -> int:
    return int.from_bytes(
        hashlib.blake2b(b"consumption:" + student_id.bytes, digest_size=8).digest(), "big", signed=True
    )


def _lock_student(student_id: uuid.UUID) -> None:
    """Serialize checkouts of one student for the rest of the transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_student_lock_key(student_id)])


@dataclass(frozen=True)
class _Seen:
    """What checkout needs of an existing record: the key (replay), and the session's servings."""

    idempotency_key: str
    status: str
    serving_no: int
    served_at: datetime
    window_id: uuid.UUID | None


def _lock_and_read(student_id: uuid.UUID, key: str, served_on: Any, session_kind: str) -> list[_Seen]:
    """Lock the student, then read the record of this key and the student's records of the
    session, oldest first. One round trip on PostgreSQL: the two statements go in one message,
    and the SELECT, being a statement of its own, reads a snapshot taken after the lock was
    granted, so it sees the checkout that held the lock before us."""
    table = connection.ops.quote_name(MealRecord._meta.db_table)
    select = (
        f"SELECT idempotency_key, status, serving_no, served_at, window_id FROM {table} "  # noqa: S608 - our table
        "WHERE idempotency_key = %s OR (student_id = %s AND served_on = %s AND session_kind = %s) ORDER BY served_at"
    )
    params = [key, _pk(student_id), connection.ops.adapt_datefield_value(served_on), session_kind]
    with client_cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT pg_advisory_xact_lock(%s); {select}", [_student_lock_key(student_id), *params])
            cursor.nextset()
        else:
            cursor.execute(select, params)
        rows = cursor.fetchall()
    return [_Seen(row[0], row[1], row[2], _aware(row[3]), uuid.UUID(str(row[4])) if row[4] else None) for row in rows]


def _pk(value: uuid.UUID) -> Any:
    return MealRecord._meta.pk.get_db_prep_value(value, connection)


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite returns text from a raw cursor
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def _face_consent_active(student: Student) -> bool:
    from canteen.identity import selectors as identity_selectors

    return bool(identity_selectors.has_face_consent(student=student))


def _max_servings(offer: Any) -> int:
    explicit = getattr(offer, "max_servings", None)
    if explicit:
        return int(explicit)
    return 2 if getattr(offer, "allows_second_meal", False) else 1


def _balance(student: Student) -> Money | None:
    from canteen.ledger import selectors as ledger_selectors

    return ledger_selectors.balance_of(student=student)


def _replay(
    existing: MealRecord, student: Student, terminal: Terminal | None = None, request_digest: str = ""
) -> CheckoutResult:
    # A key is bound to its whole request: the same key from another terminal, for another
    # student, or with another body is another checkout, refused without naming anyone.
    if existing.student_id != student.pk or (terminal is not None and existing.terminal_id != terminal.pk):
        raise KeyBelongsToAnotherCheckout(details={"key": existing.idempotency_key})
    if request_digest and existing.request_digest and existing.request_digest != request_digest:
        raise KeyBelongsToAnotherCheckout(details={"key": existing.idempotency_key})
    balance = Money(existing.balance_after_fen) if existing.balance_after_fen is not None else None
    return CheckoutResult(existing, balance, True)


def checkout_record(
    *,
    student: Student,
    method: str,
    idempotency_key: str,
    actor: Any,
    window: ServingWindow | None = None,
    terminal: Terminal | None = None,
    at: datetime | None = None,
    match_distance: float | None = None,
    match_margin: float | None = None,
    served_offline: bool = False,
    request_digest: str = "",
    set_meal_id: Any = None,
    allergen_confirmed: bool = False,
) -> CheckoutResult:
    """Serve `student` the meal offered at `at` (default: now) and charge it, once per key.

    `served_offline`: the terminal already handed the meal over while the server was
    unreachable, within its offline limit. The record is then kept even when the balance no
    longer covers it (charge_status "unpaid", settled later) or the session limit was passed
    at another window: refusing would lose a fact, not prevent it.

    A meal that holds one of the student's declared allergens (or breaks their diet) is not
    charged automatically: the conflict is recorded and refused (consumption.allergens) unless
    the window staff confirmed it (`allergen_confirmed`) or chose another set meal of the menu
    (`set_meal_id`). An offline-served meal is recorded with its conflict.
    """
    from canteen.meals import selectors as meals_selectors

    if method not in _METHODS:
        raise DomainError("未知的核验方式", "Unknown identification method", code="invalid_method")
    if terminal is not None:
        window = terminal.window
    if window is None:
        raise DomainError("缺少取餐窗口", "The serving window is required", code="window_required")
    campus = window.canteen.campus
    at = at or timezone.now()

    if student.campus_id != campus.pk:
        raise WrongCampus(details={"student_campus": str(student.campus_id), "window_campus": str(campus.pk)})
    if student.status != StudentStatus.ENROLLED:
        raise StudentNotEnrolled(details={"status": student.status})
    if method == Method.FACE and not _face_consent_active(student):
        raise FaceConsentMissing()
    if set_meal_id is None:
        offer = meals_selectors.meal_offer_for(student=student, at=at)
    else:
        offer = meals_selectors.meal_offer_for(student=student, at=at, set_meal_id=set_meal_id)
    if offer is None:
        raise NoMealOffered(details={"at": at.isoformat()})
    conflicted = (offer.allergy_conflicts or offer.diet_conflict) and not allergen_confirmed
    if conflicted and not served_offline:
        from . import allergens

        conflict = allergens.allergen_conflict_record(
            student=student,
            window=window,
            terminal=terminal,
            offer=offer,
            method=method,
            idempotency_key=idempotency_key,
            actor=actor,
        )
        raise allergens.refusal(conflict, student)

    record = _new_record(
        student=student,
        campus=campus,
        window=window,
        terminal=terminal,
        actor=actor,
        offer=offer,
        at=at,
        method=method,
        idempotency_key=idempotency_key,
        match_distance=match_distance,
        match_margin=match_margin,
        served_offline=served_offline,
    )
    record.request_digest = request_digest
    if conflicted:  # served offline: the food was handed over; keep both facts
        from . import allergens

        result = _checkout_python(record, student, offer, actor, terminal, campus, idempotency_key, request_digest)
        if not result.replayed:
            allergens.allergen_conflict_record(
                student=student,
                window=window,
                terminal=terminal,
                offer=offer,
                method=method,
                idempotency_key=idempotency_key,
                actor=actor,
                meal_record=result.record,
            )
        return result
    if _in_one_call(record):
        result = _checkout_in_one_call(
            record=record, student=student, offer=offer, actor=actor, terminal=terminal, request_digest=request_digest
        )
        if result is not None:
            return result
    return _checkout_python(record, student, offer, actor, terminal, campus, idempotency_key, request_digest)


def _checkout_python(
    record: MealRecord,
    student: Student,
    offer: Any,
    actor: Any,
    terminal: Terminal | None,
    campus: Any,
    idempotency_key: str,
    request_digest: str,
) -> CheckoutResult:
    """The checkout's steps 2-4 in Python (any database; see `consumption_checkout`)."""
    from canteen.ledger import errors as ledger_errors
    from canteen.ledger import services as ledger_services

    served_offline = record.served_offline
    with transaction.atomic():
        rows = _lock_and_read(student.pk, idempotency_key, offer.served_on, offer.session_kind)
        if any(row.idempotency_key == idempotency_key for row in rows):
            existing = MealRecord.objects.select_related("window").get(idempotency_key=idempotency_key)
            return _replay(existing, student, terminal, request_digest)
        served = [row for row in rows if row.status == RecordStatus.SERVED]
        if len(served) >= _max_servings(offer) and not served_offline:
            first = served[0]
            window_name = ServingWindow.objects.filter(pk=first.window_id).values_list("name", flat=True).first()
            raise AlreadyServed(
                served_at=timezone.localtime(first.served_at).strftime("%H:%M"),
                window=window_name or "",
                session_kind=offer.session_kind,
            )
        record.serving_no = max((row.serving_no for row in rows), default=0) + 1
        # The charge goes first, so the record is written once, complete (posting, balance after).
        # The wallet row it locks is this student's alone, and the student is already serialized
        # by the advisory lock; the rows every checkout of a campus shares are only appended to.
        balance_after: Money | None = None
        if record.charge_status == ChargeStatus.CHARGED:
            try:
                posting = ledger_services.meal_charge(
                    student=student,
                    amount=offer.price,
                    idempotency_key=f"meal:{idempotency_key}",
                    campus=campus,
                    actor=actor if getattr(actor, "pk", None) else None,
                    memo=f"{offer.served_on} {offer.set_meal_name}",
                    meal_ref=str(record.pk),
                    # A meal of an earlier day (a backfill, the demo's past lunches) is dated on
                    # that day and does not count against today's daily limit.
                    served_on=offer.served_on,
                )
                record.posting_id = str(posting.pk)
                known = getattr(posting, "balance_after_fen", None)
                balance_after = Money(known) if known is not None else None
            except (ledger_errors.InsufficientFunds, ledger_errors.DailyLimitExceeded) as exc:
                if not served_offline:
                    if isinstance(exc, ledger_errors.DailyLimitExceeded):
                        raise
                    balance = _balance(student)
                    raise InsufficientBalance(
                        balance_fen=balance.fen if balance is not None else 0, price_fen=offer.price.fen
                    ) from exc
                record.charge_status = ChargeStatus.UNPAID
        if balance_after is None:
            balance_after = _balance(student)
        record.balance_after_fen = balance_after.fen
        try:
            insert_row(record)
        except IntegrityError as exc:
            # Only reachable without the advisory lock (SQLite under an unusual isolation, or a
            # writer bypassing this service): the constraint still refuses the double serving,
            # and the error rolls the charge back with it.
            raise AlreadyServed(served_at="", window="", session_kind=offer.session_kind) from exc
        # The record itself says who served it, where and how; the transition history starts
        # with the first move (a void), and the audit trail has the creation.
        insert_row(_served_audit(record))
        publish("consumption.meal_served", _event_payload(record))
    return CheckoutResult(record, balance_after, False)


def _new_record(
    *,
    student: Student,
    campus: Any,
    window: ServingWindow,
    terminal: Terminal | None,
    actor: Any,
    offer: Any,
    at: datetime,
    method: str,
    idempotency_key: str,
    match_distance: float | None,
    match_margin: float | None,
    served_offline: bool,
) -> MealRecord:
    """The meal record as checkout will write it; the serving number, posting and balance after
    are filled in under the student's lock."""
    return MealRecord(
        student=student,
        campus=campus,
        school_id=campus.school_id,
        district_id=campus.school.district_id,
        window=window,
        terminal=terminal,
        operator=actor if getattr(actor, "pk", None) else None,
        session_kind=offer.session_kind,
        session_id=str(offer.session_id or ""),
        served_on=offer.served_on,
        served_at=at,
        serving_no=0,
        set_meal_id=str(offer.set_meal_id or ""),
        set_meal_name=offer.set_meal_name,
        dishes=list(offer.dishes or []),
        price_fen=offer.price.fen,
        method=method,
        match_distance=match_distance,
        match_margin=match_margin,
        idempotency_key=idempotency_key,
        served_offline=served_offline,
        charge_status=ChargeStatus.FREE if offer.price.fen == 0 else ChargeStatus.CHARGED,
    )


def _served_audit(record: MealRecord) -> AuditEvent:
    actor = record.operator or (f"terminal:{record.terminal.code}" if record.terminal else None)
    return audit_event(
        actor=actor,
        action="consumption.meal_served",
        target=record,
        target_label=f"{record.student.name} {record.set_meal_name}",
        after={
            "student": str(record.student_id),
            "price_fen": record.price_fen,
            "method": record.method,
            "window": str(record.window_id),
            "terminal": str(record.terminal_id) if record.terminal_id else None,
            "served_offline": record.served_offline,
            "match_distance": record.match_distance,
            "posting": record.posting_id or None,
        },
        district_id=record.district_id,
        school_id=record.school_id,
    )


# -- checkout in one database call (PostgreSQL) ----------------------------------------------
#
# consumption_checkout (migration 0002) does what the `transaction.atomic()` block of
# checkout_record does, with the rows built here: one round trip instead of eleven. Today's
# charged meals at the window take it; the rest (a free meal, an offline meal synced later,
# another database, a subscriber that cannot say its rows in advance) take the Python path.
# tests/test_checkout_paths.py runs the scenarios on both paths.

_CHECKOUT_SQL = (
    "SELECT * FROM consumption_checkout(%s::jsonb, %s::bigint, %s::integer, %s::jsonb, %s::jsonb, %s::jsonb,"
    " %s::jsonb, %s::uuid, %s::text, %s::text, %s::bigint, %s::text, %s::uuid, %s::uuid, %s::uuid, %s::uuid,"
    " %s::text, %s::uuid, %s::timestamptz)"
)


def _in_one_call(record: MealRecord) -> bool:
    return (
        connection.vendor == "postgresql"
        and getattr(settings, "CANTEEN_CHECKOUT_DB_FUNCTION", True)
        and record.charge_status == ChargeStatus.CHARGED
        and not record.served_offline
        and record.served_on == timezone.localdate()
    )


def _rows_json(rows: list[Any]) -> str:
    return "[" + ",".join(row_json(row) for row in rows) + "]"


def _checkout_in_one_call(
    *, record: MealRecord, student: Student, offer: Any, actor: Any, terminal: Terminal | None, request_digest: str = ""
) -> CheckoutResult | None:
    """Checkout as one `consumption_checkout` call; None when the Python path must do it."""
    from canteen.ledger import services as ledger_services

    if offer.served_on != timezone.localdate():
        # The one call charges today's spending; an earlier day's meal takes meal_charge's path,
        # which dates it on its day outside today's daily limit.
        return None
    call = ledger_services.meal_charge_call(
        student=student,
        amount=offer.price,
        idempotency_key=f"meal:{record.idempotency_key}",
        campus=record.campus,
        actor=actor if getattr(actor, "pk", None) else None,  # as the Python path charges
        memo=f"{offer.served_on} {offer.set_meal_name}",
        meal_ref=str(record.pk),
    )
    if call is None:
        return None
    payload = _event_payload(record)
    served_rows = prepare_subscribers("consumption.meal_served", payload, call.now)
    charged_rows = prepare_subscribers("ledger.meal_charged", call.event_payload(), call.now)
    if served_rows is None or charged_rows is None:
        return None
    scope = call.scope
    params = (
        row_json(record),
        _student_lock_key(student.pk),
        _max_servings(offer),
        row_json(_served_audit(record)),
        json.dumps(payload),
        _rows_json(served_rows),
        _rows_json(charged_rows),
        call.posting_id,
        call.key,
        call.memo,
        call.user_id,
        call.label,
        scope.campus_id,
        scope.school_id,
        scope.district_id,
        call.wallet_id,
        call.wallet_code,
        call.revenue_id,
        call.now,
    )
    try:
        row = fetch_one(_CHECKOUT_SQL, params)
    except IntegrityError as exc:
        # As in the Python path: only a writer bypassing the student's lock gets here.
        raise AlreadyServed(served_at="", window="", session_kind=offer.session_kind) from exc
    outcome, record_id, serving_no, posting_id, balance, first_at, first_window, floor, limit, spent, closed, wallet = (
        row
    )
    if outcome == "served":
        record.serving_no = serving_no
        record.posting_id = str(posting_id)
        record.balance_after_fen = balance
        record._state.adding = False
        record._state.db = connection.alias
        call.charged(wallet)
        return CheckoutResult(record, Money(balance), False)
    if outcome == "replay":
        existing = MealRecord.objects.select_related("window").get(pk=record_id)
        return _replay(existing, student, terminal, request_digest)
    if outcome == "already_served":
        raise AlreadyServed(
            served_at=timezone.localtime(first_at).strftime("%H:%M") if first_at else "",
            window=first_window or "",
            session_kind=offer.session_kind,
        )
    if outcome in {"no_wallet", "ledger_replay"}:
        return None
    if outcome in {"insufficient_funds", "refused"}:
        if balance is None:
            balance = _balance(student).fen
        raise InsufficientBalance(balance_fen=balance, price_fen=offer.price.fen)
    raise call.refusal(outcome, balance, floor, limit, spent, closed)


def _label(actor: Any, terminal: Terminal | None) -> str:
    if terminal is not None:
        return f"terminal:{terminal.code}"
    return (getattr(actor, "username", None) or str(actor or "system"))[:150]


def _event_payload(record: MealRecord) -> dict[str, Any]:
    return {
        "record_id": str(record.pk),
        "student_id": str(record.student_id),
        "campus_id": str(record.campus_id),
        "school_id": str(record.school_id),
        "district_id": str(record.district_id),
        "session_kind": record.session_kind,
        "served_on": record.served_on.isoformat(),
        # Supervision's serving-time curve reads it here rather than from the record.
        "served_at": record.served_at.isoformat(),
        "amount_fen": record.price_fen,
        "method": record.method,
    }


@transaction.atomic
def meal_record_void(*, record: MealRecord, actor: Any, reason: str) -> MealRecord:
    """Void a served meal (wrong student, food not taken): the charge is reversed in the ledger
    and the student may be served again in that session."""
    from canteen.ledger import services as ledger_services

    record = MealRecord.objects.select_for_update().get(pk=record.pk)
    if RecordStatus.VOIDED not in RECORD_MOVES[record.status]:
        raise RecordAlreadyVoided()
    reason = (reason or "").strip()[:200]
    if not reason:
        raise DomainError("请填写撤销原因", "A reason is required to void a meal", code="void_reason_required")
    if record.posting_id and record.charge_status == ChargeStatus.CHARGED:
        from canteen.ledger.models import Posting

        reversal = ledger_services.meal_charge_reverse(
            posting=Posting.objects.get(pk=record.posting_id),
            idempotency_key=f"meal-void:{record.idempotency_key}",
            actor=actor if getattr(actor, "pk", None) else None,
            reason=reason,
        )
        record.void_posting_id = str(reversal.pk)
    before = record.status
    record.status = RecordStatus.VOIDED
    record.voided_at = timezone.now()
    record.void_reason = reason
    record.save(update_fields=["status", "voided_at", "void_reason", "void_posting_id", "updated_at"])
    MealRecordTransition.objects.create(
        record=record, from_status=before, to_status=record.status, actor_label=_label(actor, None), reason=reason
    )
    audit_record(
        actor=actor,
        action="consumption.meal_voided",
        target=record,
        before={"status": before},
        after={"status": record.status, "reason": reason, "void_posting_id": record.void_posting_id},
        district_id=record.district_id,
        school_id=record.school_id,
    )
    publish("consumption.meal_voided", {**_event_payload(record), "reason": reason})
    return record


def meal_record_settle(*, record: MealRecord) -> MealRecord:
    """Charge an offline meal that the balance did not cover at sync time, with the same ledger
    key: after a top-up the retry succeeds; still short, it stays unpaid."""
    from canteen.ledger import errors as ledger_errors
    from canteen.ledger import services as ledger_services

    with transaction.atomic():
        record = MealRecord.objects.select_for_update().select_related("student", "campus").get(pk=record.pk)
        if record.charge_status != ChargeStatus.UNPAID or record.status != RecordStatus.SERVED:
            return record
        _lock_student(record.student_id)
        try:
            posting = ledger_services.meal_charge(
                student=record.student,
                amount=Money(record.price_fen),
                idempotency_key=f"meal:{record.idempotency_key}",
                campus=record.campus,
                memo=f"{record.served_on} {record.set_meal_name}（离线补扣）",
                meal_ref=str(record.pk),
                served_on=record.served_on,
            )
        except (ledger_errors.InsufficientFunds, ledger_errors.DailyLimitExceeded):
            return record
        record.posting_id = str(posting.pk)
        record.charge_status = ChargeStatus.CHARGED
        record.save(update_fields=["posting_id", "charge_status", "updated_at"])
        audit_record(
            actor=None,
            action="consumption.meal_settled",
            target=record,
            after={"posting_id": record.posting_id},
            district_id=record.district_id,
            school_id=record.school_id,
        )
    return record


# -- the window: who may check out, and which student ----------------------------------------

WINDOW_ROLES = frozenset({"window_operator", "canteen_manager"})
# An offline terminal syncs what it served; older than this is a clock fault or a replayed
# export, not a backlog.
MAX_BACKLOG = timedelta(days=7)
MAX_CLOCK_SKEW = timedelta(minutes=5)


def request_digest(body: Any) -> str:
    """What binds an idempotency key to its whole request: a keyed hash (the body may hold a PIN) of
    the body's canonical JSON, less `served_offline`, which the sync adds to the same request."""
    if not isinstance(body, dict):
        return ""
    fields = {k: body[k] for k in body if k != "served_offline"}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    # Keyed BLAKE2b: a MAC in one call, cheaper than HMAC's two hashes on the hot path.
    return hashlib.blake2b(text.encode(), key=_digest_key(), digest_size=32).hexdigest()


def _digest_key() -> bytes:
    global _DIGEST_KEY
    if _DIGEST_KEY is None:
        _DIGEST_KEY = hashlib.sha256(b"consumption.request:" + settings.SECRET_KEY.encode()).digest()
    return _DIGEST_KEY


_DIGEST_KEY: bytes | None = None


def checkout_at_window(
    *,
    actor: Any,
    terminal: Terminal | None,
    method: str,
    idempotency_key: str,
    student_id: Any = None,
    qr_token: str | None = None,
    student_number: str | None = None,
    pin: str | None = None,
    window_id: Any = None,
    identified_at: datetime | None = None,
    match_distance: float | None = None,
    match_margin: float | None = None,
    served_offline: bool = False,
    expires_at: datetime | None = None,
    request_digest: str = "",
) -> CheckoutResult:
    """The API's entry: decide the window from the caller (a terminal, or a window operator of
    the campus), the student from the credential, then `checkout_record`."""
    if terminal is not None:
        if not terminal.is_active:
            raise TerminalInactive()
        if method == Method.MANUAL:
            raise NotAllowedAtWindow(
                "终端不能人工核验，请由窗口操作员办理", "A terminal cannot do manual checks; a window operator must"
            )
        window = terminal.window
        now = timezone.now()
        at = identified_at or now
        if at > now + MAX_CLOCK_SKEW or at < now - MAX_BACKLOG:
            raise DomainError(
                "终端时间异常，请校准终端时钟",
                "The terminal's time is out of range; check its clock",
                code="terminal_clock",
                details={"identified_at": at.isoformat(), "server_time": now.isoformat()},
            )
        if expires_at is not None and not served_offline and now > expires_at:
            _refuse_expired(idempotency_key, expires_at, now)
    else:
        window = ServingWindow.objects.select_related("canteen__campus__school").filter(pk=window_id).first()
        if window is None:
            raise DomainError("请选择取餐窗口", "Choose the serving window", code="window_required")
        allowed = getattr(actor, "is_superuser", False) or (
            getattr(actor, "role", None) in WINDOW_ROLES and actor.campus_id == window.canteen.campus_id
        )
        if not allowed:
            raise NotAllowedAtWindow()
        at = timezone.now()
        served_offline = False
    campus = window.canteen.campus
    student = _resolve_student(
        campus=campus,
        method=method,
        student_id=student_id,
        qr_token=qr_token,
        student_number=student_number,
        pin=pin,
    )
    try:
        return checkout_record(
            student=student,
            method=method,
            idempotency_key=idempotency_key,
            actor=actor,
            window=window,
            terminal=terminal,
            at=at,
            match_distance=match_distance,
            match_margin=match_margin,
            served_offline=served_offline,
            request_digest=request_digest,
        )
    except DomainError as exc:
        from canteen.core.metrics import CHECKOUT_REFUSALS

        CHECKOUT_REFUSALS.labels(campus.code, exc.code).inc()
        # The window shows whom it refused (a QR card or PIN names nobody on the terminal's
        # side); the terminal finds the name in its roster. Never for a reused key: that one
        # may belong to someone else's checkout.
        if not isinstance(exc, KeyBelongsToAnotherCheckout):
            exc.details.setdefault("student_id", str(student.pk))
        raise


def _refuse_expired(key: str, expires_at: datetime, now: datetime) -> None:
    """A terminal gives a checkout up after its timeout and refuses the pupil on screen (or
    serves offline); a request that reaches the checkout after that moment (a frozen or
    overloaded worker) must not charge. Its replay still answers: a record of this key
    means it did land in time."""
    if MealRecord.objects.filter(idempotency_key=key).exists():
        return
    raise CheckoutExpired(details={"expires_at": expires_at.isoformat(), "server_time": now.isoformat()})


def _resolve_student(
    *, campus: Any, method: str, student_id: Any, qr_token: str | None, student_number: str | None, pin: str | None
) -> Student:
    if method == Method.QR:
        from canteen.identity import services as identity_services

        return identity_services.credential_verify_qr(token=qr_token, campus=campus)
    if method == Method.PIN:
        from canteen.identity import services as identity_services

        return identity_services.credential_verify_pin(campus=campus, student_number=student_number, pin=pin)
    student = Student.objects.select_related("school_class", "campus__school").filter(pk=student_id).first()
    if student is None:
        raise UnknownStudent(details={"student_id": str(student_id)})
    return student


# -- campus policy ---------------------------------------------------------------------------


@transaction.atomic
def campus_policy_set(*, campus: Any, actor: Any, face_liveness: str) -> Any:
    """Set whether the campus's terminals require a live face for face checkout."""
    from .models import CampusCheckoutPolicy, FaceLiveness

    if face_liveness not in FaceLiveness.values:
        raise DomainError("未知的活体检测要求", "Unknown liveness requirement", code="invalid_policy")
    policy, _ = CampusCheckoutPolicy.objects.select_for_update().get_or_create(campus=campus)
    before = policy.face_liveness
    policy.face_liveness = face_liveness
    policy.save(update_fields=["face_liveness", "updated_at"])
    audit_record(
        actor=actor,
        action="consumption.campus_policy_set",
        target=policy,
        before={"face_liveness": before},
        after={"face_liveness": face_liveness},
        school_id=campus.school_id,
    )
    return policy


def campus_face_liveness(*, campus: Any) -> str:
    """The campus's liveness requirement ("off" when never set)."""
    from .models import CampusCheckoutPolicy, FaceLiveness

    value = CampusCheckoutPolicy.objects.filter(campus=campus).values_list("face_liveness", flat=True).first()
    return value or FaceLiveness.OFF
