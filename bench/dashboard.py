"""Dashboard latency at a district-year and at a city-year of data.

    .venv/bin/python bench/dashboard.py            # city-year: 20 districts, 1,000 campuses, 200 school days
    .venv/bin/python bench/dashboard.py --small    # one district (51 campuses), 200 school days, few raw rows

What it builds, in a PostgreSQL database of its own (bench_supervision, dropped and recreated):
- the organisation (districts, schools, campuses) and the flattened CampusDim;
- the rollup tables at full size: DailyCampusStats (one row per campus and school day),
  HourlyCampusMeals (3 serving hours a day), DailySpend (3 deliveries a week × 3 categories),
  and 20 cases per campus;
- raw meal records for the first district(s) (`--raw-districts`, default 1) in a table shaped
  like consumption's MealRecord and partitioned as docs/decisions.md proposes for it
  (RANGE by month, then HASH by district); the first district's rollups are then recomputed
  FROM those records (the rebuild path), so its figures are exact, not synthetic.

Then it times the JSON API (through Django's test client: routing, middleware, DRF, rendering)
for the district and the city dashboards over this term and over the whole year, and the big
screen, and compares with answering the same question from the raw records.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "bench_supervision"
BASE_URL = os.environ.get("CANTEEN_BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(
        ["psql", f"{BASE_URL}/{db}", "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, stdout=subprocess.DEVNULL
    )


def school_days(n: int, end: date) -> list[date]:
    days, d = [], end
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    return sorted(days)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--districts", type=int)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--raw-districts", type=int, default=1)
    parser.add_argument("--raw-days", type=int, help="days of raw meal records (default all)")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    districts = args.districts or (1 if args.small else 20)
    raw_days = args.raw_days or (10 if args.small else args.days)

    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    os.environ["CANTEEN_DATABASE_URL"] = f"{BASE_URL}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canteen.settings.test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from tqdm import tqdm

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - t0:.1f}s")

    from canteen.org.choices import Role, SchoolStage
    from canteen.org.models import Campus, City, District, School, User
    from canteen.supervision.choices import CaseSource, CaseStatus
    from canteen.supervision.models import DAILY_COUNTERS, CampusDim, Case

    today = timezone.localdate()
    days = school_days(args.days, today)
    city = City.objects.create(name="荆州市", code="4210")
    dims: list[CampusDim] = []
    bar = tqdm(total=districts * 51, desc="org 校区 campuses", unit="校区")
    for d in range(districts):
        district = District.objects.create(city=city, name=f"示范{d + 1}区", code=f"42{9000 + d}")
        schools = School.objects.bulk_create(
            [
                School(
                    district=district,
                    name=f"示范{d + 1}区第{s + 1}学校",
                    code=f"{district.code}{s:03d}",
                    stage=SchoolStage.PRIMARY,
                )
                for s in range(30)
            ]
        )
        campuses = Campus.objects.bulk_create(
            [Campus(school=schools[c % 30], name=f"校区{c + 1}", code=f"{district.code}-{c:03d}") for c in range(51)]
        )
        for c in campuses:
            school = schools[[s.pk for s in schools].index(c.school_id)]
            dims.append(
                CampusDim(
                    campus_id=c.pk,
                    school_id=c.school_id,
                    district_id=district.pk,
                    city_id=city.pk,
                    campus_name=c.name,
                    school_name=school.name,
                    district_name=district.name,
                    enrolled=900 + (hash(c.code) % 600),
                )  # fmt: skip
            )
        bar.update(51)
    bar.close()
    CampusDim.objects.bulk_create(dims, batch_size=2000)
    first = District.objects.order_by("code").first()
    district_user = User.objects.create_user("bench-district", role=Role.DISTRICT_REGULATOR, district=first)
    city_user = User.objects.create_user("bench-city", role=Role.CITY_REGULATOR, city=city)

    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_day (day date PRIMARY KEY)")
        cur.executemany("INSERT INTO bench_day VALUES (%s)", [(d,) for d in days])
        cur.execute("CREATE TEMP TABLE bench_campus AS SELECT * FROM supervision_campusdim")

    # ---------------------------------------------------------------- raw meal records
    raw_ids = list(District.objects.order_by("code").values_list("pk", flat=True)[: args.raw_districts])
    raw_from = days[-raw_days]
    with connection.cursor() as cur:
        cur.execute(
            """CREATE TABLE bench_meal_record (
                 id bigint GENERATED ALWAYS AS IDENTITY, served_on date NOT NULL, district_id uuid NOT NULL,
                 campus_id uuid NOT NULL, school_id uuid NOT NULL, student_no int NOT NULL,
                 session_kind text NOT NULL, served_at timestamptz NOT NULL, price_fen int NOT NULL,
                 status text NOT NULL, PRIMARY KEY (id, served_on, district_id)
               ) PARTITION BY RANGE (served_on)"""
        )
        month = date(days[0].year, days[0].month, 1)
        while month <= today:
            nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            name = f"bench_meal_record_{month:%Y%m}"
            cur.execute(
                f"CREATE TABLE {name} PARTITION OF bench_meal_record FOR VALUES FROM ('{month}') TO ('{nxt}') "
                "PARTITION BY HASH (district_id)"
            )
            for h in range(4):
                cur.execute(f"CREATE TABLE {name}_h{h} PARTITION OF {name} FOR VALUES WITH (MODULUS 4, REMAINDER {h})")
            month = nxt
        cur.execute("CREATE INDEX ON bench_meal_record (campus_id, served_on)")
    raw_rows = 0
    t0 = time.perf_counter()
    raw_days_list = [d for d in days if d >= raw_from]
    bar = tqdm(total=len(raw_ids) * len(raw_days_list), desc="raw meal records (district-days)", unit="day")
    for did in raw_ids:
        for day in raw_days_list:
            with connection.cursor() as cur:
                # ~90% of enrolled pupils eat lunch, 1 in 500 records is voided.
                cur.execute(
                    """INSERT INTO bench_meal_record (served_on, district_id, campus_id, school_id, student_no,
                         session_kind, served_at, price_fen, status)
                       SELECT %s, c.district_id, c.campus_id, c.school_id, s,
                         'lunch', %s::timestamptz + (s %% 5400) * interval '1 second', 500 + (s %% 3) * 100,
                         CASE WHEN random() < 0.002 THEN 'voided' ELSE 'served' END
                       FROM bench_campus c, generate_series(1, (c.enrolled * 0.9)::int) s
                       WHERE c.district_id = %s""",
                    [day, f"{day} 11:00:00+08", did],
                )
                raw_rows += cur.rowcount
            bar.update(1)
    bar.close()
    raw_seconds = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE bench_meal_record")
        cur.execute("SELECT pg_total_relation_size('bench_meal_record'::regclass)")
        cur.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'bench_meal_record'::regclass)"
        )
        raw_bytes = cur.fetchone()[0] or 0
    print(f"raw meal records: {raw_rows:,} rows in {raw_seconds:.0f}s ({raw_bytes / 2**30:.2f} GiB with index)")

    # ---------------------------------------------------------------- rollups
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        # The raw districts' meal rollups come FROM the raw records (the rebuild path).
        cur.execute(
            """INSERT INTO supervision_dailycampusstats (day, campus_id, school_id, district_id, city_id,
                 meals_served, meals_voided, meals_lunch, meal_revenue_fen)
               SELECT r.served_on, r.campus_id, r.school_id, r.district_id, %s,
                 count(*), count(*) FILTER (WHERE status = 'voided'), count(*) FILTER (WHERE status = 'served'),
                 coalesce(sum(price_fen) FILTER (WHERE status = 'served'), 0)
               FROM bench_meal_record r GROUP BY 1, 2, 3, 4""",
            [city.pk],
        )
    rebuild_seconds = time.perf_counter() - t0
    print(f"rollups rebuilt from {raw_rows:,} raw records: {rebuild_seconds:.1f}s")
    bar = tqdm(total=districts, desc="rollups (districts)", unit="区")
    for did in District.objects.order_by("code").values_list("pk", flat=True):
        with connection.cursor() as cur:
            cur.execute(
                """INSERT INTO supervision_dailycampusstats AS t (day, campus_id, school_id, district_id, city_id,
                     meals_served, meals_voided, meals_lunch, meal_revenue_fen, topups_fen, topups_count, subsidy_fen,
                     deliveries_accepted, deliveries_rejected, deliveries_traced, delivery_accepted_fen, alarms,
                     records_missing, nutrition_checks, nutrition_failed, feedback_count, last_served_at)
                   SELECT d.day, c.campus_id, c.school_id, c.district_id, c.city_id,
                     (c.enrolled * 0.9)::int, 2, (c.enrolled * 0.9)::int - 2, ((c.enrolled * 0.9)::int - 2) * 600,
                     (random() * 2000000)::int, (random() * 60)::int, (c.enrolled * 0.3 * 400)::int,
                     CASE WHEN extract(isodow FROM d.day) IN (1, 3, 5) THEN 1 ELSE 0 END,
                     CASE WHEN random() < 0.02 THEN 1 ELSE 0 END,
                     CASE WHEN extract(isodow FROM d.day) IN (1, 3, 5) AND random() < 0.93 THEN 1 ELSE 0 END,
                     CASE WHEN extract(isodow FROM d.day) IN (1, 3, 5) THEN (random() * 800000)::int ELSE 0 END,
                     (random() * 1.3)::int, (random() * 1.05)::int, 1, (random() * 1.1)::int, (random() * 1.2)::int,
                     d.day + time '12:40'
                   FROM bench_day d CROSS JOIN bench_campus c WHERE c.district_id = %s
                   ON CONFLICT (day, campus_id) DO UPDATE SET topups_fen = EXCLUDED.topups_fen,
                     topups_count = EXCLUDED.topups_count, subsidy_fen = EXCLUDED.subsidy_fen,
                     deliveries_accepted = EXCLUDED.deliveries_accepted, deliveries_traced = EXCLUDED.deliveries_traced,
                     delivery_accepted_fen = EXCLUDED.delivery_accepted_fen, alarms = EXCLUDED.alarms,
                     nutrition_checks = 1, last_served_at = EXCLUDED.last_served_at""",
                [did],
            )
            cur.execute(
                """INSERT INTO supervision_hourlycampusmeals (day, hour, campus_id, school_id, district_id, city_id, meals)
                   SELECT d.day, h, c.campus_id, c.school_id, c.district_id, c.city_id, (c.enrolled * 0.3)::int
                   FROM bench_day d CROSS JOIN bench_campus c CROSS JOIN generate_series(11, 13) h WHERE c.district_id = %s""",
                [did],
            )
            cur.execute(
                """INSERT INTO supervision_dailyspend (day, campus_id, school_id, district_id, city_id, supplier_id,
                     supplier_name, category, amount_fen)
                   SELECT d.day, c.campus_id, c.school_id, c.district_id, c.city_id,
                     'S' || ((abs(hashtext(c.campus_id::text)) + k) %% 12), '供应商' || ((abs(hashtext(c.campus_id::text)) + k) %% 12),
                     (ARRAY['肉类', '蔬菜', '粮油'])[k + 1], (random() * 300000)::int
                   FROM bench_day d CROSS JOIN bench_campus c CROSS JOIN generate_series(0, 2) k
                   WHERE c.district_id = %s AND extract(isodow FROM d.day) IN (1, 3, 5)""",
                [did],
            )
        bar.update(1)
    bar.close()
    with connection.cursor() as cur:
        # The per-district rollups are the sums of the per-campus ones (as the handlers keep them).
        # Column names are the model's constants, not input.
        columns, sums = ", ".join(DAILY_COUNTERS), ", ".join(f"sum({c})" for c in DAILY_COUNTERS)
        sql = (
            f"INSERT INTO supervision_dailydistrictstats (day, district_id, city_id, {columns}, campus_meal_days) "  # noqa: S608
            f"SELECT day, district_id, city_id, {sums}, count(*) FILTER (WHERE meals_served > 0) "
            "FROM supervision_dailycampusstats GROUP BY day, district_id, city_id"
        )
        cur.execute(sql)
        cur.execute(
            """INSERT INTO supervision_districtspend (day, district_id, city_id, supplier_id, supplier_name, category, amount_fen)
               SELECT day, district_id, city_id, supplier_id, max(supplier_name), category, sum(amount_fen)
               FROM supervision_dailyspend GROUP BY day, district_id, city_id, supplier_id, category"""
        )
    statuses = [CaseStatus.OPENED, CaseStatus.ASSIGNED, CaseStatus.RESPONDED, CaseStatus.CLOSED, CaseStatus.CLOSED]
    sources = [s for s in CaseSource.values]
    cases = []
    for i, dim in enumerate(dims):
        for k in range(20):
            cases.append(
                Case(
                    number=f"B{i:05d}{k:02d}",
                    title="bench",
                    source=sources[(i + k) % len(sources)],
                    status=statuses[(i + k) % 5],
                    district_id=dim.district_id,
                    school_id=dim.school_id,
                    campus_id=dim.campus_id,
                    flag=["", "", "yellow", "red"][(i * k) % 4],
                )  # fmt: skip
            )
    Case.objects.bulk_create(cases, batch_size=5000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
        cur.execute(
            "SELECT (SELECT count(*) FROM supervision_dailycampusstats), (SELECT count(*) FROM supervision_hourlycampusmeals),"
            " (SELECT count(*) FROM supervision_dailyspend), (SELECT count(*) FROM supervision_dailydistrictstats),"
            " (SELECT count(*) FROM supervision_districtspend)"
        )
        daily_n, hourly_n, spend_n, ddaily_n, dspend_n = cur.fetchone()
    print(
        f"rollups: daily={daily_n:,} hourly={hourly_n:,} spend={spend_n:,} district daily={ddaily_n:,} "
        f"district spend={dspend_n:,} cases={len(cases):,} "
        f"in {time.perf_counter() - t0:.0f}s"
    )

    # ---------------------------------------------------------------- latency
    def measure(user, url: str) -> tuple[float, float]:
        client = Client()
        client.force_login(user)
        for _ in range(3):
            assert client.get(url).status_code == 200
        samples = []
        for _ in range(args.requests):
            t = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, response.content[:300]
        samples.sort()
        return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]

    year = f"start={days[0]}&end={today}"
    rows = [
        ("district dashboard, this term", district_user, "/api/v1/supervision/dashboard/"),
        ("district dashboard, 200 school days", district_user, f"/api/v1/supervision/dashboard/?{year}"),
        ("district big screen", district_user, "/api/v1/supervision/bigscreen/"),
        ("district dashboard page (HTML)", district_user, "/supervision/"),
        ("city dashboard, this term", city_user, "/api/v1/supervision/dashboard/"),
        ("city dashboard, 200 school days", city_user, f"/api/v1/supervision/dashboard/?{year}"),
        ("city big screen", city_user, f"/api/v1/supervision/bigscreen/?level=city&id={city.pk}"),
    ]
    print(f"\n{'request':42} {'median ms':>10} {'p95 ms':>8}")
    for label, user, url in rows:
        median, p95 = measure(user, url)
        print(f"{label:42} {median:10.1f} {p95:8.1f}")

    # The same question answered from the raw records instead of the rollups.
    with connection.cursor() as cur:
        t = time.perf_counter()
        cur.execute(
            "SELECT campus_id, count(*) FILTER (WHERE status = 'served') FROM bench_meal_record "
            "WHERE district_id = %s AND served_on BETWEEN %s AND %s GROUP BY campus_id",
            [raw_ids[0], raw_from, today],
        )
        cur.fetchall()
        raw_ms = (time.perf_counter() - t) * 1000
    print(
        f"\nmeals per campus for one district over {len(raw_days_list)} days from raw records: {raw_ms:.0f} ms (one query)"
    )
    print(f"school days: {len(days)} ({days[0]} … {days[-1]}), districts: {districts}, campuses: {len(dims)}")
    connection.close()
    if not os.environ.get("CANTEEN_BENCH_KEEP"):
        psql(f"DROP DATABASE IF EXISTS {DB}")


if __name__ == "__main__":
    main()
