"""Monthly range partitions for the rollup tables on PostgreSQL.

Migration 0002 turns `supervision_dailycampusstats` and `supervision_hourlycampusmeals` into
tables partitioned by RANGE (day), one partition per month plus a DEFAULT partition that
catches anything outside the prepared months. `ensure_partitions` (periodic task) creates the
months ahead so that the default partition stays empty. On SQLite (the demo) nothing happens.

Why by month and not also by district: a district-year of rollups is 51 × 200 rows, a city-year
200,000; month pruning already confines a dashboard to a few thousand rows and the (district_id,
day) index does the rest. The raw fact tables (consumption's meal records, ~200 M rows a
city-year) are the ones to sub-partition by district: see docs/decisions.md, "Supervision".
"""

from __future__ import annotations

from datetime import date

from django.db import connection

PARTITIONED_TABLES = ("supervision_dailycampusstats", "supervision_hourlycampusmeals")


def month_start(day: date, offset: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


def is_partitioned(table: str) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = %s", [table]
        )
        return cursor.fetchone() is not None


def ensure_partitions(*, around: date, months_back: int = 1, months_ahead: int = 3) -> list[str]:
    """Create missing monthly partitions from `months_back` before to `months_ahead` after."""
    created: list[str] = []
    if connection.vendor != "postgresql":
        return created
    for table in PARTITIONED_TABLES:
        if not is_partitioned(table):
            continue
        for offset in range(-months_back, months_ahead + 1):
            start = month_start(around, offset)
            end = month_start(start, 1)
            name = f"{table}_{start:%Y%m}"
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", [name])
                if cursor.fetchone()[0] is not None:
                    continue
                cursor.execute(
                    f'CREATE TABLE "{name}" PARTITION OF "{table}" '  # noqa: S608 - names built here, not input
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
            created.append(name)
    return created
