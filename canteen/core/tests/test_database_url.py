"""CANTEEN_DATABASE_URL, as an operator writes it, becomes Django's DATABASES entry."""

from __future__ import annotations

from canteen.settings.base import database_from_url


def test_a_postgresql_server_over_tcp():
    db = database_from_url("postgres://canteen:s%40cret@db.example.org:6432/district")
    assert db["ENGINE"] == "canteen.core.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("district", "canteen", "s@cret")
    assert (db["HOST"], db["PORT"]) == ("db.example.org", "6432")


def test_a_postgresql_server_on_this_machine_through_its_socket():
    # libpq's URI form: the socket's directory, percent-encoded, where the host goes.
    db = database_from_url("postgresql://postgres@%2Fvar%2Frun%2Fpostgresql/canteen")
    assert db["HOST"] == "/var/run/postgresql"
    assert (db["NAME"], db["PORT"]) == ("canteen", "5432")


def test_the_embedded_database_at_an_absolute_path():
    db = database_from_url("sqlite:////srv/canteen/canteen.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/srv/canteen/canteen.sqlite3"
