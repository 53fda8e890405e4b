"""The two checkout paths agree: `consumption_checkout`, the whole checkout in one PostgreSQL call,
and the Python path (SQLite; PostgreSQL with CANTEEN_CHECKOUT_DB_FUNCTION=False; a free meal, an
offline meal synced later). The scenario tests of test_checkout_service.py and
test_concurrent_checkout.py run on both through the `checkout_path` fixture; here one scripted
service at the window is replayed on each path and every answer and every row compared, and the
one-call path's own promises are checked: one statement, all or nothing, and the Python path
whenever it cannot do the whole checkout."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from canteen.consumption import services
from canteen.consumption.models import MealRecord
from canteen.core import events
from canteen.core.errors import DomainError
from canteen.core.models import AuditEvent, OutboxEvent
from canteen.ledger.models import Account, Entry, Posting
from canteen.supervision.models import ProcessedEvent, RollupDelta

from .conftest import balance, fund

pytestmark = pytest.mark.django_db
PG_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the checkout function exists on PostgreSQL only"
)


def _serve_a_window(canteen, terminal, operator, students) -> list:
    """A few minutes at one window: served, a retry, a second try, a poor student, an operator's
    checkout, a key reused for another student. Returns what each step answered."""
    from canteen.consumption.api.auth import TerminalPrincipal

    s0, s1, s2 = students
    device = TerminalPrincipal(terminal)  # who the API passes as the actor of a terminal's checkout
    steps = [
        lambda: services.checkout_record(student=s0, method="qr", idempotency_key="a", actor=device, terminal=terminal),
        lambda: services.checkout_record(student=s0, method="qr", idempotency_key="a", actor=None, terminal=terminal),
        lambda: services.checkout_record(student=s0, method="qr", idempotency_key="b", actor=None, terminal=terminal),
        lambda: services.checkout_record(student=s1, method="qr", idempotency_key="c", actor=None, terminal=terminal),
        lambda: services.checkout_record(
            student=s2, method="manual", idempotency_key="d", actor=operator, window=canteen.window
        ),
        lambda: services.checkout_record(student=s2, method="qr", idempotency_key="a", actor=None, terminal=terminal),
    ]
    answers = []
    for step in steps:
        try:
            with transaction.atomic():
                result = step()
            r = result.record
            answers.append(
                ("ok", result.replayed, r.serving_no, r.charge_status, r.balance_after_fen, result.balance_after)
            )
        except DomainError as exc:
            details = {k: v for k, v in exc.details.items() if k != "served_at"}
            answers.append((type(exc).__name__, exc.code, details))
    return answers


def _rows() -> dict:
    """Every row a checkout writes, without the values that differ by construction (ids,
    times, sequence numbers)."""
    records = [
        {k: v for k, v in row.items() if k not in {"id", "created_at", "updated_at", "served_at", "posting_id"}}
        | {"has_posting": bool(row["posting_id"])}
        for row in MealRecord.objects.order_by("idempotency_key").values()
    ]
    postings = list(
        Posting.objects.filter(kind="meal_charge")
        .order_by("idempotency_key")
        .values_list("idempotency_key", "amount_fen", "memo", "student_id", "channel", "actor_label", "on")
    )
    entries = sorted(Entry.objects.filter(posting__kind="meal_charge").values_list("account__code", "amount_fen"))
    drop = {"record_id", "posting_id", "served_at"}
    outbox = sorted(
        (e.topic, sorted((k, v) for k, v in e.payload.items() if k not in drop))
        for e in OutboxEvent.objects.exclude(topic="ledger.topped_up")
    )
    deltas = sorted(
        (
            tuple(sorted((k, v) for k, v in row.items() if k not in {"id", "event_id", "served_at"}))
            for row in RollupDelta.objects.exclude(topups_count__gt=0).values()
        ),
        key=repr,
    )
    claims = sorted(ProcessedEvent.objects.exclude(topic="ledger.topped_up").values_list("topic", flat=True))
    audits = [
        (a.action, a.actor_label, a.target_type, a.target_label, {k: v for k, v in a.after.items() if k != "posting"})
        for a in AuditEvent.objects.filter(action__startswith="consumption.meal").order_by("id")
    ]
    return {
        "records": records,
        "postings": postings,
        "entries": entries,
        "outbox": outbox,
        "deltas": deltas,
        "claims": claims,
        "audits": audits,
        "wallets": sorted(Account.objects.filter(kind="wallet").values_list("code", "balance_fen", "spent_today_fen")),
    }


@PG_ONLY
def test_one_scripted_service_gives_the_same_answers_and_rows_on_both_paths(
    world, canteen, operator, registered_terminal, settings
):
    terminal, _token = registered_terminal
    students = [s for s in world.students if s.campus_id == canteen.campus.pk][:3]
    for student, yuan in zip(students, ("20.00", "1.00", "20.00"), strict=True):
        fund(student, yuan)
    seen = {}
    for path in (True, False):
        settings.CANTEEN_CHECKOUT_DB_FUNCTION = path
        with transaction.atomic():
            answers = _serve_a_window(canteen, terminal, operator, students)
            seen[path] = (answers, _rows())
            transaction.set_rollback(True)  # both paths start from the same funded wallets
    (answers, rows), (py_answers, py_rows) = seen[True], seen[False]
    assert answers == py_answers
    assert [a[0] for a in answers] == [
        "ok",
        "ok",
        "AlreadyServed",
        "InsufficientBalance",
        "ok",
        "KeyBelongsToAnotherCheckout",
    ]
    assert answers[1][1] is True  # the retry is a replay
    for table in rows:
        assert rows[table] == py_rows[table], table
    assert (len(rows["records"]), len(rows["deltas"])) == (2, 4)  # two meals, each with its charge


@PG_ONLY
def test_a_terminal_checkout_writes_in_one_statement(world, canteen, registered_terminal):
    terminal, _token = registered_terminal
    first, student = [s for s in world.students if s.campus_id == canteen.campus.pk][:2]
    fund(first, "20.00")
    fund(student, "20.00")
    # The campus's first charge opens its revenue account: once per campus, not per meal.
    services.checkout_record(student=first, method="qr", idempotency_key="first", actor=None, terminal=terminal)
    with CaptureQueriesContext(connection) as queries:
        result = services.checkout_record(
            student=student, method="qr", idempotency_key="one", actor=None, terminal=terminal
        )
    assert not result.replayed
    assert result.record.posting_id
    sql = [q["sql"].lstrip().upper() for q in queries.captured_queries]
    assert sum("CONSUMPTION_CHECKOUT(" in s for s in sql) == 1
    assert not [s for s in sql if s.startswith(("INSERT", "UPDATE", "DELETE", "SAVEPOINT", "WITH"))]
    assert balance(student) == 2000 - canteen.price_fen


def _named_columns(module: str, table: str) -> set[str]:
    import importlib
    import re

    sql = importlib.import_module(module).CREATE
    listed = re.search(rf"INSERT INTO {table} \(([^)]*)\)", sql).group(1)
    return {c.strip() for c in listed.split(",")}


def test_the_functions_name_every_column_of_the_rows_they_insert():
    """consumption_checkout and supervision_append_deltas name the audit and delta columns in
    SQL (migrations consumption 0002, supervision 0005): a field added to those models must be
    added there too, in a new migration. The meal record travels whole (jsonb_populate_record)."""
    audit = _named_columns("canteen.consumption.migrations.0002_checkout_function", "core_auditevent")
    assert audit == {f.column for f in AuditEvent._meta.concrete_fields if not f.primary_key}
    delta = _named_columns("canteen.supervision.migrations.0005_append_deltas_function", "supervision_rollupdelta")
    assert delta == {f.column for f in RollupDelta._meta.concrete_fields if not f.primary_key}


@PG_ONLY
def test_a_subscriber_that_cannot_say_its_rows_in_advance_gets_the_python_path(
    world, canteen, registered_terminal, monkeypatch
):
    terminal, _token = registered_terminal
    student = world.students[0]
    fund(student, "20.00")
    seen = []
    monkeypatch.setitem(
        events._subscribers, "consumption.meal_served", [*events.subscribers_of("consumption.meal_served"), seen.append]
    )
    with CaptureQueriesContext(connection) as queries:
        services.checkout_record(student=student, method="qr", idempotency_key="sub", actor=None, terminal=terminal)
    assert not any("consumption_checkout(" in q["sql"] for q in queries.captured_queries)
    assert [e.payload["student_id"] for e in seen] == [str(student.pk)]
    # supervision's own handlers still ran: the meal and its charge
    assert RollupDelta.objects.filter(meals_served=1).count() == 1
    assert RollupDelta.objects.filter(meal_charges_fen=canteen.price_fen).count() == 1


@PG_ONLY
def test_a_student_without_a_wallet_is_charged_on_the_python_path_where_overdraft_is_allowed(
    world, canteen, registered_terminal, settings
):
    settings.CANTEEN_WALLET_OVERDRAFT_FEN = 5000
    terminal, _token = registered_terminal
    student = world.students[0]
    assert not Account.objects.filter(code=f"wallet:{student.pk}").exists()
    result = services.checkout_record(
        student=student, method="qr", idempotency_key="new", actor=None, terminal=terminal
    )
    assert result.balance_after.fen == -canteen.price_fen == balance(student)
    assert MealRecord.objects.get().posting_id


@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_a_crash_inside_the_call_leaves_nothing_and_the_retry_charges_once(world, canteen, registered_terminal):
    """The call is the transaction: the server failing anywhere inside it (here: at the meal
    record, after the charge was written) leaves no posting, no event and the same balance, and
    the terminal's retry with the same key is served once."""
    terminal, _token = registered_terminal
    student = world.students[0]
    fund(student, "20.00")
    before = (Posting.objects.count(), OutboxEvent.objects.count(), RollupDelta.objects.count())
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_crash() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'server lost mid-checkout'; END $$;"
            " CREATE TRIGGER test_crash BEFORE INSERT ON consumption_mealrecord"
            " FOR EACH ROW EXECUTE FUNCTION test_crash()"
        )
    try:
        with pytest.raises(DatabaseError, match="server lost mid-checkout"):
            services.checkout_record(
                student=student, method="qr", idempotency_key="crash", actor=None, terminal=terminal
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_crash ON consumption_mealrecord; DROP FUNCTION test_crash()")
    assert (Posting.objects.count(), OutboxEvent.objects.count(), RollupDelta.objects.count()) == before
    assert balance(student) == 2000
    result = services.checkout_record(
        student=student, method="qr", idempotency_key="crash", actor=None, terminal=terminal
    )
    again = services.checkout_record(
        student=student, method="qr", idempotency_key="crash", actor=None, terminal=terminal
    )
    assert again.replayed
    assert again.record.pk == result.record.pk
    assert balance(student) == 2000 - canteen.price_fen
    assert Posting.objects.filter(kind="meal_charge").count() == 1
