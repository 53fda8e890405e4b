#!/usr/bin/env python
"""Roster import of a whole district on PostgreSQL: 60,000 pupils with guardians.

    .venv/bin/python bench/roster.py [--pupils 60000] [--csv] [--keep]

A scratch database (bench_roster) is migrated, a district of 30 schools and 51 campuses is
made, and one .xlsx file in the template's columns is written (every pupil with a guardian, a
third with a second one, one family in ten with two children sharing a mother). Then, timed:
1. preview: read the file (openpyxl, read-only) and check every row against the database;
2. confirm: read and check again, then write (bulk statements, 5,000 rows per transaction);
3. the same file again (preview + confirm): every row unchanged, nothing written.
Goal: the import (1 + 2) of 60,000 pupils in ≤ 60 s on this 2-core machine; step 3 faster.
The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_ROSTER_DB", "bench_roster")
os.environ["CANTEEN_DATABASE_URL"] = f"{SERVER}/{DB}"
os.environ["DJANGO_SETTINGS_MODULE"] = "canteen.settings.test"


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "子涵欣怡梓轩浩宇一诺雨桐思远佳琪俊杰诗涵若曦宇航明轩紫萱"


def make_district():
    from canteen.org.choices import Role, SchoolStage
    from canteen.org.models import Campus, City, District, School, User

    city = City.objects.create(name="基准市", code="BC")
    district = District.objects.create(city=city, name="基准区", code="BD")
    campuses = []
    for s in range(30):
        school = School.objects.create(
            district=district, name=f"基准第{s + 1}小学", code=f"BS{s:02d}", stage=SchoolStage.PRIMARY
        )
        for c in range(2 if s < 21 else 1):  # 21 × 2 + 9 × 1 = 51 campuses
            campuses.append(Campus.objects.create(school=school, name=f"校区{c + 1}", code=f"BS{s:02d}C{c}"))
    actor = User.objects.create(username="bench-district", role=Role.DISTRICT_REGULATOR, district=district)
    return district, campuses, actor


def write_roster(path: Path, campuses, pupils: int, as_csv: bool) -> None:
    from canteen.org.tests.roster_files import HEADERS

    rows = []
    per_campus = pupils // len(campuses) + 1
    n = 0
    for campus in campuses:
        for i in range(per_campus):
            if n >= pupils:
                break
            n += 1
            grade = i % 6 + 1
            klass = f"{'一二三四五六'[grade - 1]}年级{i // 6 % 8 + 1}班"
            name = SURNAMES[n % len(SURNAMES)] + GIVEN[n % 17 : n % 17 + 2]
            # One family in ten has two children: the second shares the first's mother.
            mother = f"139{(n - 1 if n % 10 == 0 else n):08d}"
            g2 = (f"{SURNAMES[n % len(SURNAMES)]}父", "父亲", f"137{n:08d}") if n % 3 == 0 else ("", "", "")
            rows.append(
                [
                    f"G{2017000000 + n}",
                    name,
                    "男" if n % 2 else "女",
                    date(2019 - grade, n % 12 + 1, n % 28 + 1).isoformat(),
                    str(grade),
                    klass,
                    campus.code,
                    "是" if n % 7 == 0 else "否",
                    "是" if n % 4 == 0 else "否",
                    "花生" if n % 50 == 0 else "",
                    "",
                    f"{SURNAMES[(n - 1 if n % 10 == 0 else n) % len(SURNAMES)]}母",
                    "母亲",
                    mother,
                    *g2,
                ]
            )
    if as_csv:
        from canteen.org.tests.roster_files import csv_bytes

        path.write_bytes(csv_bytes(rows))
    else:
        import openpyxl

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(HEADERS)
        for row in rows:
            sheet.append(row)
        workbook.save(path)


def import_once(actor, district, path: Path, label: str) -> dict:
    from tqdm import tqdm

    from canteen.org import roster

    data = path.read_bytes()
    t0 = time.perf_counter()
    record = roster.roster_preview(actor=actor, data=data, filename=path.name, school=None, district=district)
    t1 = time.perf_counter()
    assert record.status == "previewed", record.report
    with tqdm(total=record.rows_total, unit="row", desc=label, file=sys.stderr) as bar:
        record = roster.roster_confirm(
            actor=actor, roster_import=record, progress=lambda done, total: bar.update(done - bar.n)
        )
    t2 = time.perf_counter()
    return {"preview_s": t1 - t0, "confirm_s": t2 - t1, "total_s": t2 - t0, "counts": record.counts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, default=60_000)
    parser.add_argument("--csv", action="store_true", help="a .csv file instead of .xlsx")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    admin_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    admin_sql(f"CREATE DATABASE {DB}")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from canteen.org.models import Guardian, GuardianLink, Student

        district, campuses, actor = make_district()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ("roster.csv" if args.csv else "roster.xlsx")
            t = time.perf_counter()
            write_roster(path, campuses, args.pupils, args.csv)
            print(
                f"file: {path.name} {path.stat().st_size / 1e6:.1f} MB, {args.pupils} pupils, written in {time.perf_counter() - t:.1f} s"
            )
            first = import_once(actor, district, path, "import")
            tables = (Student.objects.count(), Guardian.objects.count(), GuardianLink.objects.count())
            with __import__("django.db", fromlist=["connection"]).connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            second = import_once(actor, district, path, "re-import")
            assert (Student.objects.count(), Guardian.objects.count(), GuardianLink.objects.count()) == tables
        load = os.getloadavg()
        print(f"load average before/after: {load[0]:.2f}")
        print(f"pupils {tables[0]}, guardians {tables[1]}, links {tables[2]}")
        for label, r in (("import", first), ("re-import", second)):
            print(
                f"{label:10s} preview {r['preview_s']:6.1f} s  confirm {r['confirm_s']:6.1f} s  "
                f"total {r['total_s']:6.1f} s  {args.pupils / r['total_s']:,.0f} pupils/s  {r['counts']}"
            )
        unchanged = second["counts"].get("students_unchanged")
        print(
            f"re-import unchanged rows: {unchanged} (students created/updated: "
            f"{second['counts'].get('students_created')}/{second['counts'].get('students_updated')})"
        )
        print(
            f"goal ≤ 60 s: {'met' if first['total_s'] <= 60 else 'NOT met'}; re-import faster: "
            f"{'yes' if second['total_s'] < first['total_s'] else 'no'}"
        )
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            admin_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
