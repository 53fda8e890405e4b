"""The hot-path insert and the several-statement cursor behave like the ORM they stand in for."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from canteen.core.db import client_cursor, insert_row
from canteen.core.models import AuditEvent, IdempotencyRecord, OutboxEvent

pytestmark = pytest.mark.django_db


def test_insert_row_writes_what_save_would_and_sets_the_generated_key():
    event = insert_row(OutboxEvent(topic="test.topic", payload={"fen": 600, "who": "陆博泽"}))
    assert event.pk is not None
    assert not event._state.adding
    stored = OutboxEvent.objects.get(pk=event.pk)
    assert stored.payload == {"fen": 600, "who": "陆博泽"}
    assert stored.occurred_at is not None  # the field's default, as save() would set it
    audit = insert_row(AuditEvent(action="test.done", target_type="x", target_id="1", after={"ok": True}))
    assert AuditEvent.objects.get(pk=audit.pk).after == {"ok": True}


def test_insert_row_refuses_a_duplicate_as_the_orm_does():
    insert_row(IdempotencyRecord(scope="s", key="k", request_hash="h"))
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_row(IdempotencyRecord(scope="s", key="k", request_hash="h"))
    assert IdempotencyRecord.objects.filter(scope="s", key="k").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="several statements in one round trip: PostgreSQL")
def test_the_client_cursor_sends_two_statements_in_one_round_trip_and_reports_errors_as_django_errors():
    insert_row(IdempotencyRecord(scope="c", key="one", request_hash="h"))
    with client_cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1; SELECT count(*) FROM core_idempotencyrecord WHERE scope = %s", ["c"])
            cursor.nextset()
        else:
            cursor.execute("SELECT count(*) FROM core_idempotencyrecord WHERE scope = %s", ["c"])
        assert cursor.fetchone()[0] == 1
    with pytest.raises(IntegrityError), transaction.atomic(), client_cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_idempotencyrecord (scope, key, request_hash, created_at, expires_at)"
            " VALUES ('c', 'one', 'h', now(), now())"
        )
