"""System checks of the database the project runs on (`manage.py migrate`, `check --database`)."""

from typing import Any

from django.core.checks import Tags, Warning, register
from django.db import connections

AUTOVACUUM_OFF = "canteen.W001"


@register(Tags.database)
def autovacuum_is_on(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Warning]:
    """The checkout, the meal charge and the rollup deltas are PL/pgSQL functions, and a
    connection keeps their plans. A plan made while the meal records were empty is a sequential
    scan, and stays one until the table is analyzed (ANALYZE also drops the cached plans).
    autovacuum analyzes as the tables grow; with it off, every checkout reads the whole table
    (measured: docs/benchmarks.md, seventh session)."""
    found = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            setting = cursor.fetchone()[0]
        if setting != "on":
            found.append(
                Warning(
                    f"PostgreSQL autovacuum is off on database '{alias}'",
                    hint=(
                        "Turn it on (autovacuum = on, PostgreSQL's default), or ANALYZE after bulk loads and "
                        "as the meal records grow: until a table is analyzed, the checkout's cached plan "
                        "reads every meal record."
                    ),
                    id=AUTOVACUUM_OFF,
                )
            )
    return found
