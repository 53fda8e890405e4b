"""The idempotency record: a retried write replays, a reused key with another body is refused,
a failure half-way stores nothing."""

import threading

import pytest
from django.db import connection

from canteen.core.errors import IdempotencyKeyMissing, IdempotencyKeyReused, ValidationFailed
from canteen.core.idempotency import run_idempotent
from canteen.core.models import IdempotencyRecord


def counter_operation(calls):
    def op():
        calls.append(1)
        return 201, {"n": len(calls)}

    return op


@pytest.mark.django_db
def test_same_key_same_body_replays_the_stored_response():
    calls = []
    first = run_idempotent(scope="t", key="k1", payload={"a": 1}, operation=counter_operation(calls))
    again = run_idempotent(scope="t", key="k1", payload={"a": 1}, operation=counter_operation(calls))
    assert first == (201, {"n": 1}, False)
    assert again == (201, {"n": 1}, True)
    assert len(calls) == 1


@pytest.mark.django_db
def test_same_key_different_body_is_rejected_clearly():
    run_idempotent(scope="t", key="k2", payload={"amount": 100}, operation=lambda: (201, {}))
    with pytest.raises(IdempotencyKeyReused) as err:
        run_idempotent(scope="t", key="k2", payload={"amount": 999}, operation=lambda: (201, {}))
    body = err.value.as_body("zh-hans")["error"]
    assert body["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in body["message_zh"]


@pytest.mark.django_db
def test_the_same_key_in_another_scope_is_independent():
    run_idempotent(scope="a", key="k", payload=1, operation=lambda: (200, {"s": "a"}))
    assert run_idempotent(scope="b", key="k", payload=2, operation=lambda: (200, {"s": "b"}))[1] == {"s": "b"}


@pytest.mark.django_db
def test_missing_or_oversized_keys_are_refused():
    with pytest.raises(IdempotencyKeyMissing):
        run_idempotent(scope="t", key=None, payload={}, operation=lambda: (200, {}))
    with pytest.raises(ValidationFailed):
        run_idempotent(scope="t", key="x" * 129, payload={}, operation=lambda: (200, {}))


@pytest.mark.django_db
def test_a_crash_half_way_stores_nothing_and_the_retry_runs():
    def crashing():
        raise RuntimeError("terminal lost power")

    with pytest.raises(RuntimeError):
        run_idempotent(scope="t", key="k3", payload={}, operation=crashing)
    assert not IdempotencyRecord.objects.filter(key="k3").exists()
    assert run_idempotent(scope="t", key="k3", payload={}, operation=lambda: (201, {"ok": True}))[2] is False


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_run_the_operation_once():
    if connection.vendor != "postgresql":
        pytest.skip("row-level blocking is PostgreSQL's")
    calls = []
    barrier = threading.Barrier(8)
    results = []

    def worker():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            results.append(run_idempotent(scope="t", key="same", payload={"x": 1}, operation=counter_operation(calls)))
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 8
    assert {r[1]["n"] for r in results} == {1}
    assert sum(1 for r in results if not r[2]) == 1


@pytest.mark.django_db
def test_a_response_with_ids_and_dates_is_stored_and_replayed_as_json():
    import uuid
    from datetime import date

    posting_id = uuid.uuid4()
    first = run_idempotent(
        scope="t", key="k-uuid", payload={}, operation=lambda: (201, {"id": posting_id, "on": date(2026, 11, 23)})
    )
    again = run_idempotent(scope="t", key="k-uuid", payload={}, operation=lambda: (201, {}))
    assert first[1] == {"id": posting_id, "on": date(2026, 11, 23)}
    assert again == (201, {"id": str(posting_id), "on": "2026-11-23"}, True)
