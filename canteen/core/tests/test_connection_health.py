"""A persistent connection is checked before each request without a query, and a connection the
server dropped is still found and replaced before the request uses it."""

from __future__ import annotations

import pytest
from django.db import connection, connections
from django.db.backends.postgresql import base as django_postgresql

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's health check"),
]


@pytest.fixture
def own_connection():
    """A second connection, as a web worker keeps one between requests (autocommit, idle)."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


@pytest.fixture
def selects(monkeypatch):
    """Counts the fall-backs to Django's own `SELECT 1` check."""
    calls = []
    original = django_postgresql.DatabaseWrapper.is_usable

    def counted(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", counted)
    return calls


def _until_readable(wrapper, seconds: float = 3.0) -> None:
    import select

    ready = select.select([wrapper.connection.pgconn.socket], [], [], seconds)[0]
    assert ready, "the server's message did not arrive"


def test_an_idle_healthy_connection_is_usable_without_a_query(own_connection, selects):
    assert own_connection.is_usable() is True
    assert selects == []


def test_a_connection_the_server_terminated_is_found_and_the_next_request_reconnects(own_connection, selects):
    pid = own_connection.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    _until_readable(own_connection)
    assert own_connection.is_usable() is False

    # What Django does at the start of the next request, then its first query.
    own_connection.close_if_unusable_or_obsolete()
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_a_message_waiting_on_the_socket_falls_back_to_the_real_check(own_connection, selects):
    own_connection.connection.execute("LISTEN canteen_health_test")
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        other.connection.execute("NOTIFY canteen_health_test")
    finally:
        other.close()
    _until_readable(own_connection)
    assert own_connection.is_usable() is True
    assert len(selects) == 1


def test_a_connection_inside_a_transaction_is_checked_by_the_server(own_connection, selects):
    own_connection.set_autocommit(False)
    own_connection.connection.execute("SELECT 1")
    assert own_connection.is_usable() is True
    assert len(selects) == 1
    own_connection.rollback()
    own_connection.set_autocommit(True)
