#!/usr/bin/env python
"""Public trace page latency with a year of deliveries for a district.

    .venv/bin/python bench/trace.py [--small] [--requests 400]

1. A scratch PostgreSQL database (bench_trace), migrated by Django.
2. A district of 51 campuses and a school year of deliveries, bulk-inserted (not through the
   services: ~1M rows must load in about a minute): every school day each campus receives one
   delivery of 8 batches from one of 6 suppliers (250 weekdays: a year), each batch accepted, traced (trace code),
   issued to lunch with a dish name; each delivery has a truck track of 24 GPS+temperature
   points, some with a cold-chain break. --small: 5 campuses, 40 days.
3. GET /t/<code> through Django's full stack (middleware, URL routing, view, template) for
   random codes of the whole year; prints median, p95 and p99, and queries per page.
   Goal: p95 < 50 ms.
The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
DB = "bench_trace"
os.environ["CANTEEN_DATABASE_URL"] = f"{SERVER}/{DB}"
os.environ["DJANGO_SETTINGS_MODULE"] = "canteen.settings.test"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def build(campuses_n: int, days_n: int, rng: random.Random) -> list[str]:
    from django.utils import timezone

    from canteen.org.models import Campus, Canteen, City, District, School
    from canteen.procurement import models as pm
    from canteen.trace import epcis
    from canteen.trace.models import ColdChainBreak, TraceCode, TrackPoint, TransportDevice, TransportTrack
    from canteen.trace.services import _new_code

    tz = timezone.get_current_timezone()
    city = City.objects.create(name="荆州市", code="4210")
    district = District.objects.create(city=city, name="荆州区", code="421003")
    schools = School.objects.bulk_create(
        [School(district=district, name=f"第{i + 1}小学", code=f"S{i:03d}", stage="primary") for i in range(30)]
    )
    campuses = Campus.objects.bulk_create(
        [
            Campus(school=schools[i % 30], name=f"校区{i}", code=f"C{i:03d}", latitude=Decimal("30.35"))
            for i in range(campuses_n)
        ]
    )
    canteen_of = {
        k.campus_id: k
        for k in Canteen.objects.bulk_create(
            [Canteen(campus=c, name=f"{c.name}食堂", code=f"{c.code}K") for c in campuses]
        )
    }
    suppliers = pm.Supplier.objects.bulk_create(
        [
            pm.Supplier(
                district=district, name=f"荆楚配送{i}有限公司", uscc=f"91421003MA{i:07d}X", district_approved=True
            )
            for i in range(6)
        ]
    )
    storages = ["ambient", "ambient", "chilled", "frozen"]
    items = pm.Item.objects.bulk_create(
        [
            pm.Item(
                district=district,
                code=f"I{i:03d}",
                name=f"食材{i}",
                category=["vegetable", "meat", "grain_oil", "aquatic", "egg_dairy"][i % 5],
                unit="kg",
                shelf_life_days=[5, 3, 365, 2, 15][i % 5],
                storage=storages[i % 4],
            )
            for i in range(40)
        ]
    )
    prices = pm.FrameworkPrice.objects.bulk_create(
        [
            pm.FrameworkPrice(
                district=district, supplier=s, item=it, price_fen=1000, valid_from=date(2025, 9, 1), version=1
            )
            for s in suppliers
            for it in items
        ]
    )
    price_of = {(p.supplier_id, p.item_id): p for p in prices}
    devices = TransportDevice.objects.bulk_create(
        [
            TransportDevice(
                supplier=s,
                district=district,
                name=f"车{i}",
                token_hash=uuid.uuid4().hex * 2,
                token_hint="dev_",  # noqa: S106 - a display hint, not a secret
            )
            for i, s in enumerate(suppliers)
        ]
    )

    start_day = date.today() - timedelta(days=int(days_n * 7 / 5) + 1)
    days = [start_day + timedelta(days=i) for i in range(int(days_n * 7 / 5) + 1)]
    days = [d for d in days if d.weekday() < 5][:days_n]
    all_codes: list[str] = []
    for day_index, day in enumerate(days):
        orders, order_lines, deliveries, dlines, batches, checks, moves = [], [], [], [], [], [], []
        codes, tracks, points, breaks = [], [], [], []
        for c_index, campus in enumerate(campuses):
            supplier = suppliers[(c_index + day_index) % 6]
            device = devices[(c_index + day_index) % 6]
            n = f"{day:%Y%m%d}-{c_index:03d}"
            order = pm.PurchaseOrder(
                number=f"PO{n}",
                district=district,
                campus=campus,
                canteen=canteen_of[campus.pk],
                supplier=supplier,
                delivery_day=day,
                meal_kind="lunch",
                status="delivered",
            )
            orders.append(order)
            arrived = datetime.combine(day, dtime(7, 10), tzinfo=tz)
            delivery = pm.Delivery(
                number=f"DL{n}",
                order=order,
                district=district,
                campus=campus,
                supplier=supplier,
                status="accepted",
                vehicle_plate="鄂D00000",
                driver_name="司机",
                driver_phone="13900000000",
                dispatched_at=arrived - timedelta(hours=2),
                arrived_at=arrived,
                accepted_at=arrived,
                arrival_temperature_c=Decimal("3.5"),
            )
            deliveries.append(delivery)
            for item in rng.sample(items, 8):
                qty = Decimal(rng.randint(5, 60))
                ol = pm.PurchaseOrderLine(
                    order=order,
                    item=item,
                    framework_price=price_of[(supplier.pk, item.pk)],
                    quantity=qty,
                    unit="kg",
                    price_fen=1000,
                    amount_fen=int(qty * 1000),
                    delivered_quantity=qty,
                    accepted_quantity=qty,
                )
                order_lines.append(ol)
                dl = pm.DeliveryLine(
                    delivery=delivery, order_line=ol, item=item, quantity=qty, unit="kg", price_fen=1000
                )
                dlines.append(dl)
                batch = pm.Batch(
                    delivery_line=dl,
                    district=district,
                    campus=campus,
                    supplier=supplier,
                    item=item,
                    batch_number=f"L{day:%m%d}{rng.randint(100, 999)}",
                    producer="荆州市绿源蔬菜基地",
                    production_date=day - timedelta(days=1),
                    shelf_life_days=item.shelf_life_days,
                    expires_on=day + timedelta(days=(item.shelf_life_days or 1) - 1),
                    quantity=qty,
                    unit="kg",
                    accepted_quantity=qty,
                    on_hand=Decimal(0),
                    status="accepted",
                    accepted_at=arrived,
                    quick_tests=[{"test": "农药残留", "value": "10", "unit": "%", "passed": True}],
                    arrival_temperature_c=Decimal("3.5"),
                )
                batches.append(batch)
                checks.append(
                    pm.AcceptanceCheck(
                        delivery_line=dl,
                        batch=batch,
                        district=district,
                        campus=campus,
                        supplier=supplier,
                        result="accept",
                        accepted_quantity=qty,
                        rejected_quantity=Decimal(0),
                        checked_by_label="keeper",
                        checked_at=arrived,
                        record={},
                        retain_until=day + timedelta(days=730),
                    )
                )
                moves.append(
                    pm.StockMovement(
                        batch=batch,
                        district=district,
                        campus=campus,
                        item=item,
                        kind="receipt",
                        quantity=qty,
                        day=day,
                        reference=delivery.number,
                        at=arrived,
                    )
                )
                moves.append(
                    pm.StockMovement(
                        batch=batch,
                        district=district,
                        campus=campus,
                        item=item,
                        kind="issue",
                        quantity=-qty,
                        day=day,
                        meal_kind="lunch",
                        dish_name=f"菜品{item.code}",
                        reference=f"IS{n}",
                        at=arrived,
                    )
                )
                code = TraceCode(
                    batch=batch,
                    code=_new_code(),
                    gtin=epcis.gtin_like(f"item:{item.pk}"),
                    lot=epcis.safe_lot(batch.batch_number),
                    district=district,
                    campus=campus,
                )
                codes.append(code)
            track = TransportTrack(
                device=device,
                delivery=delivery,
                district=district,
                campus=campus,
                trip_ref=n,
                profile="chilled",
                min_c=Decimal("0"),
                max_c=Decimal("4"),
                started_at=arrived - timedelta(hours=2),
                ended_at=arrived,
                point_count=24,
            )
            tracks.append(track)
            broken = rng.random() < 0.05
            for i in range(24):
                temp = 2.5 + rng.random() + (5 if broken and 10 <= i < 15 else 0)
                points.append(
                    TrackPoint(
                        track=track,
                        device=device,
                        seq=(day_index * 1000 + c_index) * 100 + i,
                        at=track.started_at + timedelta(minutes=5 * i),
                        lat=Decimal(f"{30.30 + i * 0.003:.6f}"),
                        lon=Decimal(f"{112.10 + i * 0.004:.6f}"),
                        temperature_c=Decimal(f"{temp:.1f}"),
                    )
                )
            if broken:
                track.break_count = 1
                breaks.append(
                    ColdChainBreak(
                        track=track,
                        started_at=track.started_at + timedelta(minutes=50),
                        ended_at=track.started_at + timedelta(minutes=75),
                        minutes=25,
                        worst_c=Decimal("8.4"),
                        limit_c=Decimal("4.0"),
                    )
                )
        for model, rows in (
            (pm.PurchaseOrder, orders),
            (pm.Delivery, deliveries),
            (pm.PurchaseOrderLine, order_lines),
            (pm.DeliveryLine, dlines),
            (pm.Batch, batches),
            (pm.AcceptanceCheck, checks),
            (pm.StockMovement, moves),
            (TraceCode, codes),
            (TransportTrack, tracks),
            (TrackPoint, points),
            (ColdChainBreak, breaks),
        ):
            model.objects.bulk_create(rows, batch_size=5000)
        all_codes.extend(c.code for c in codes)
        if day_index % 20 == 0:
            print(f"  day {day_index + 1}/{len(days)}: {len(all_codes)} batches", flush=True)
    return all_codes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept bench database (skips loading)")
    args = parser.parse_args()
    campuses_n, days_n = (5, 40) if args.small else (51, 250)

    if not args.reuse:
        admin_sql(f"DROP DATABASE IF EXISTS {DB}")
        admin_sql(f"CREATE DATABASE {DB}")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, reset_queries
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        call_command("migrate", verbosity=0)
        rng = random.Random(2026)
        t0 = time.perf_counter()
        from canteen.trace.models import TraceCode

        if args.reuse and TraceCode.objects.exists():
            codes = list(TraceCode.objects.values_list("code", flat=True))
        else:
            codes = build(campuses_n, days_n, rng)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = cursor.fetchone()[0]
        print(
            f"loaded {len(codes)} traced batches ({campuses_n} campuses × {days_n} school days) "
            f"in {time.perf_counter() - t0:.0f} s; database {size}"
        )

        client = Client(HTTP_HOST="localhost")
        from canteen.trace import views

        views.PUBLIC_RATE_PER_MINUTE = 10**9  # measuring the page, not the limiter
        for code in rng.sample(codes, 20):
            assert client.get(f"/t/{code}").status_code == 200
        timings: list[float] = []
        cpu_ms: list[float] = []
        queries = []
        sample = [rng.choice(codes) for _ in range(args.requests)]
        for code in sample:
            with CaptureQueriesContext(connection) as ctx:
                start, cpu = time.perf_counter(), time.process_time()
                response = client.get(f"/t/{code}")
                timings.append((time.perf_counter() - start) * 1000)
                cpu_ms.append((time.process_time() - cpu) * 1000)
            assert response.status_code == 200
            queries.append(len(ctx.captured_queries))
            reset_queries()
        timings.sort()
        p = lambda q: timings[min(len(timings) - 1, int(q * len(timings)))]  # noqa: E731
        print(
            f"GET /t/<code>: n={len(timings)} median={statistics.median(timings):.1f} ms "
            f"p95={p(0.95):.1f} ms p99={p(0.99):.1f} ms max={timings[-1]:.1f} ms; "
            f"queries/page={statistics.median(queries):.0f}"
        )
        print(f"web-process CPU per page (less sensitive to other load): median={statistics.median(cpu_ms):.1f} ms")
        print("goal p95 < 50 ms:", "MET" if p(0.95) < 50 else "NOT MET", f"(load average {os.getloadavg()[0]:.1f})")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin_sql(f"DROP DATABASE IF EXISTS {DB}")


if __name__ == "__main__":
    main()
