"""On PostgreSQL, rebuild the two large rollup tables as RANGE (day) partitioned tables.

The tables are empty when this runs (the previous migration created them). A partitioned table's
primary key and unique constraints must contain the partition key, hence PRIMARY KEY (id, day);
ids still come from one identity sequence, so `id` alone stays unique in practice. Other
databases (SQLite for the demo) keep the plain tables."""

from datetime import date

from django.db import migrations

TABLES = {
    "supervision_dailycampusstats": {
        "unique": ("sv_daily_day_campus_uniq", "day, campus_id"),
        "indexes": {
            "sv_daily_district_day": "district_id, day",
            "sv_daily_city_day": "city_id, day",
            "sv_daily_school_day": "school_id, day",
        },
    },
    "supervision_hourlycampusmeals": {
        "unique": ("sv_hourly_day_campus_hour_uniq", "day, campus_id, hour"),
        "indexes": {"sv_hourly_district_day": "district_id, day"},
    },
}
FIRST_MONTH = date(2024, 1, 1)
MONTHS = 60  # 2024-01 … 2028-12; later months are created ahead by a periodic task


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    for table, spec in TABLES.items():
        old = f"{table}_unpartitioned"
        run(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        run(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY) PARTITION BY RANGE (day)')
        run(f'DROP TABLE "{old}" CASCADE')
        run(f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id, day)')
        name, columns = spec["unique"]
        run(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" UNIQUE ({columns})')
        for index, columns in spec["indexes"].items():
            run(f'CREATE INDEX "{index}" ON "{table}" ({columns})')
        run(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
        for m in range(MONTHS):
            index = FIRST_MONTH.year * 12 + FIRST_MONTH.month - 1 + m
            start = date(index // 12, index % 12 + 1, 1)
            end = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
            run(
                f'CREATE TABLE "{table}_{start:%Y%m}" PARTITION OF "{table}" '
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    for table, spec in TABLES.items():
        old = f"{table}_partitioned"
        run(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        run(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY)')
        run(f'DROP TABLE "{old}" CASCADE')
        run(f'ALTER TABLE "{table}" ADD PRIMARY KEY (id)')
        name, columns = spec["unique"]
        run(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" UNIQUE ({columns})')
        for index, columns in spec["indexes"].items():
            run(f'CREATE INDEX "{index}" ON "{table}" ({columns})')


class Migration(migrations.Migration):
    dependencies = [("supervision", "0001_rollups_cases_inspections_feedback")]

    operations = [migrations.RunPython(partition, unpartition)]
