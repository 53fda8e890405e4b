"""One-row inserts for the hot paths (checkout, ledger postings, events, audit).

`Model.save()` costs more Python than the database spends on the row: signals, the
update-or-insert decision, field-by-field compiler work. `insert_row` writes the same values
(each field's own `pre_save` and `get_db_prep_save`, so defaults, `auto_now` and JSON encoding
are honoured) with one prepared statement whose text is built once per model. It does not send
signals: the project writes no logic in signals (services say what happens, in order).

Beside it, for the paths that must cost few round trips: `row_json` (a row as JSON, for a
PostgreSQL function that inserts it), `fetch_one` (one statement on the driver's own cursor),
`model_from_row` (a model from a fixed-text query's row) and `client_cursor`.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import uuid
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


def _json_value(value: Any) -> Any:
    """A value json.dumps cannot write, as jsonb_populate_record reads it: full precision
    (DjangoJSONEncoder would cut times to milliseconds), UUIDs and dates as text."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value row_json can write")


@functools.cache
def _json_plan(model: type[models.Model]) -> tuple[tuple[str, str, Any], ...]:
    """(column, attribute, field if its pre_save sets the value (auto_now…) else None) for each
    column row_json writes. Values are read as the instance holds them: the fields of the hot
    tables need no get_db_prep_save for JSON (a JSON column's value nests as it is)."""
    meta = model._meta
    generated = meta.pk if getattr(meta.pk, "db_returning", False) else None
    plan = []
    for f in meta.concrete_fields:
        if f is generated:
            continue
        sets_value = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        plan.append((f.column, f.attname, f if sets_value else None))
    return tuple(plan)


def row_json(instance: models.Model) -> str:
    """`instance` as one JSON object of column → value (what `insert_row` would write), for a
    PostgreSQL function that inserts it with `jsonb_populate_record`: a whole checkout travels
    in one call. A database-generated key is left out."""
    row = {}
    for column, attname, sets_value in _json_plan(type(instance)):
        row[column] = sets_value.pre_save(instance, add=True) if sets_value is not None else getattr(instance, attname)
    return json.dumps(row, default=_json_value, ensure_ascii=False)


def fetch_one(sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Run one statement (PostgreSQL) and return its row. On the hot paths (the ledger's and the
    checkout's functions) the driver's own cursor binds the parameters server-side: 50-100 µs
    less client CPU per call than Django's cursor and its wrapper (docs/benchmarks.md). Django's
    cursor is used whenever something watches queries (DEBUG, CaptureQueriesContext,
    execute_wrapper instrumentation), so they still see this one."""
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    import psycopg

    # What Django's cursor() and execute() check first.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


@functools.cache
def _row_converters(model: type[models.Model], vendor: str) -> tuple[tuple[Any, list[Any]], ...]:
    """Per column: the column expression and the converters a queryset would apply to it."""
    out = []
    for f in model._meta.concrete_fields:
        col = f.get_col(model._meta.db_table)
        out.append((col, connection.ops.get_db_converters(col) + f.get_db_converters(connection)))
    return tuple(out)


def model_from_row(model: type[models.Model], values: Any) -> models.Model:
    """A model instance from one row of its concrete columns in field order (a fixed-text query
    on a hot path), with the conversions a queryset applies (JSON decoded, SQLite's text
    UUIDs and times parsed)."""
    converted = []
    for value, (col, converters) in zip(values, _row_converters(model, connection.vendor), strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, None, converted)
