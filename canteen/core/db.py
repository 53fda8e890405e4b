"""One-row inserts for the hot paths (checkout, ledger postings, events, audit).

`Model.save()` costs more Python than the database spends on the row: signals, the
update-or-insert decision, field-by-field compiler work. `insert_row` writes the same values
(each field's own `pre_save` and `get_db_prep_save`, so defaults, `auto_now` and JSON encoding
are honoured) with one prepared statement whose text is built once per model. It does not send
signals: the project writes no logic in signals (services say what happens, in order).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection, models


@functools.cache
def _statement(model: type[models.Model], vendor: str) -> tuple[tuple[Any, ...], str, Any]:
    """(fields written, INSERT … RETURNING text, the generated key field or None)."""
    meta = model._meta
    generated = meta.pk if getattr(meta.pk, "db_returning", False) else None
    fields = tuple(f for f in meta.concrete_fields if f is not generated)
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608 - model's own identifiers
    if generated is not None:
        sql += f" RETURNING {qn(generated.column)}"
    return fields, sql, generated


def insert_row(instance: models.Model) -> models.Model:
    """INSERT `instance` as it stands (a new row; a clash on a unique index raises
    IntegrityError), set its generated key, and mark it saved. Returns the instance."""
    fields, sql, generated = _statement(type(instance), connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if generated is not None:
            setattr(instance, generated.attname, cursor.fetchone()[0])
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def client_cursor() -> Any:
    """A cursor that binds parameters into the SQL text on the client, on the same connection
    and in the same transaction as the ORM: the one way to send several statements in one
    round trip on PostgreSQL when the connection binds on the server. Read results with
    `nextset()`."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    # Django's wrapper: database errors arrive as django.db errors (IntegrityError…), and the
    # query log and execute_wrappers see the statements as for any cursor.
    with connection.wrap_database_errors:
        return connection._prepare_cursor(psycopg.ClientCursor(connection.connection))
