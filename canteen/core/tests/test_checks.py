"""An operator who runs `migrate` on a PostgreSQL server with autovacuum off is warned: the
checkout's cached plans would keep reading every meal record."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from canteen.core.checks import AUTOVACUUM_OFF, autovacuum_is_on

pytestmark = pytest.mark.django_db


def _server_autovacuum() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL server setting")
def test_the_warning_follows_the_servers_autovacuum_setting():
    found = autovacuum_is_on(databases=["default"])
    if _server_autovacuum() == "on":
        assert found == []
    else:
        assert [w.id for w in found] == [AUTOVACUUM_OFF]
        assert "autovacuum" in found[0].msg
        assert "ANALYZE" in found[0].hint


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL server setting")
def test_check_with_the_database_reports_it(capsys):
    call_command("check", databases=["default"])
    reported = capsys.readouterr()
    assert (AUTOVACUUM_OFF in reported.err + reported.out) == (_server_autovacuum() != "on")


def test_the_check_asks_no_database_unless_told_to(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert autovacuum_is_on(databases=None) == []


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the embedded database has no autovacuum")
def test_sqlite_is_not_warned():
    assert autovacuum_is_on(databases=["default"]) == []
