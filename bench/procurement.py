#!/usr/bin/env python
"""Procurement read and write paths on PostgreSQL with a school year of data for a district.

    .venv/bin/python bench/procurement.py [--small] [--weeks N]

A scratch database (bench_procurement) is migrated, the demo district is seeded (51 campuses),
then the demo week of orders, deliveries, batches and stock issues is repeated back in time for
--weeks weeks (40 ≈ a school year; --small: 4). Then it times, median and p95 in ms:
  1. the district's combined demand (集配) for a day  — selectors.combined_demand
  2. a batch's trace inputs: batch_detail + issues_of_batch (what the trace page reads)
  3. a FEFO issue to the kitchen                        — services.stock_issue
  4. accepting a 6-line delivery                        — services.delivery_accept
The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
DB = "bench_procurement"
os.environ["CANTEEN_DATABASE_URL"] = f"{SERVER}/{DB}"
os.environ["DJANGO_SETTINGS_MODULE"] = "canteen.settings.test"
os.environ["TQDM_DISABLE"] = "1"  # no progress bars in the figures
os.environ.setdefault("CANTEEN_DATA_DIR", tempfile.mkdtemp(prefix="bench_procurement_"))


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def timed(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--weeks", type=int, default=None)
    args = parser.parse_args()
    weeks = args.weeks or (4 if args.small else 40)

    admin_sql(f"DROP DATABASE IF EXISTS {DB}")
    admin_sql(f"CREATE DATABASE {DB}")
    try:
        run(weeks)
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(f"DROP DATABASE IF EXISTS {DB}")


def run(weeks: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from canteen.org.demo import seed_organisation
    from canteen.org.models import User
    from canteen.procurement import demo, selectors, services
    from canteen.procurement.models import Batch, Item, PurchaseOrder, StockMovement, Supplier
    from canteen.procurement.tests.factories import batch_line

    t0 = time.perf_counter()
    ctx = seed_organisation(students_per_campus=40)
    demo.seed(ctx)
    district = ctx.districts[0]
    campuses = [c for c in ctx.campuses if c.school.district_id == district.pk]
    suppliers = list(Supplier.objects.filter(district=district).order_by("created_at"))
    suppliers.sort(key=lambda s: [n.format(d="荆州市" + district.name) for n, _c, _p in demo.SUPPLIERS].index(s.name))
    items = list(Item.objects.filter(district=district).order_by("code"))
    prices = {
        (p.supplier_id, p.item_id): p
        for p in demo.FrameworkPrice.objects.filter(district=district, valid_to__isnull=True)
    }
    for week in range(1, weeks):
        demo._seed_week(
            ctx, district, campuses, suppliers, items, prices, ctx.today - timedelta(days=7 * week), tag=f"W{week}"
        )
    seeded = time.perf_counter() - t0
    print(
        f"seeded in {seeded:.0f}s: {PurchaseOrder.objects.count()} orders, {Batch.objects.count()} batches, "
        f"{StockMovement.objects.count()} stock movements, {len(campuses)} campuses, {weeks} weeks"
    )
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")

    rng = random.Random(7)
    regulator = User.objects.get(username="district")
    days = list(PurchaseOrder.objects.values_list("delivery_day", flat=True).distinct())
    med, p95 = timed(lambda: selectors.combined_demand(actor=regulator, day=rng.choice(days)), 50)
    print(f"combined demand (district, one day):   median {med:6.1f} ms   p95 {p95:6.1f} ms")

    batch_ids = list(Batch.objects.values_list("id", flat=True)[:5000])

    def trace_inputs():
        bid = rng.choice(batch_ids)
        selectors.batch_detail(batch_id=bid)
        selectors.issues_of_batch(batch=bid)

    med, p95 = timed(trace_inputs, 200)
    print(f"batch detail + forward lineage:       median {med:6.1f} ms   p95 {p95:6.1f} ms")

    store = User.objects.get(username="store01")
    campus = store.campus
    rice = Item.objects.get(district=district, name="大米")
    # Stock a deep pile of rice batches so FEFO has many candidates to order and lock.
    manager = User.objects.get(username="canteen01")
    supplier_user = User.objects.get(username="supplier01")
    grain = suppliers[6]
    from canteen.procurement.models import SupplierMember

    SupplierMember.objects.filter(user=supplier_user).update(supplier=grain)
    admin = User.objects.get(username="school01")  # the school admin of store01's campus

    def confirmed(lines):
        order = services.order_create(
            actor=manager,
            campus=campus,
            supplier=grain,
            delivery_day=timezone.localdate(),
            meal_kind="lunch",
            lines=lines,
        )
        services.order_submit(actor=manager, order=order)
        services.order_approve(actor=admin, order=order)
        services.order_send(actor=manager, order=order)
        services.order_confirm(actor=supplier_user, order=order)
        return order

    order = confirmed([{"item": rice, "quantity": "200"}])
    line = order.lines.get()
    delivery = services.delivery_dispatch(
        actor=supplier_user,
        order=order,
        lines=[
            batch_line(line, "10", number=f"R{i}", produced=timezone.localdate() - timedelta(days=i)) for i in range(20)
        ],
    )
    services.delivery_accept(
        actor=store, delivery=delivery, decisions=[{"line": dl, "result": "accept"} for dl in delivery.lines.all()]
    )
    med, p95 = timed(
        lambda: services.stock_issue(
            actor=store, campus=campus, item=rice, quantity="0.5", day=timezone.localdate(), meal_kind="lunch"
        ),
        100,
    )
    print(f"FEFO stock issue (20+ batches):        median {med:6.1f} ms   p95 {p95:6.1f} ms")

    grain_items = [i for i in items if prices.get((grain.pk, i.pk)) is not None][:6]
    samples = []
    for _ in range(20):
        order = confirmed([{"item": i, "quantity": "3"} for i in grain_items])
        delivery = services.delivery_dispatch(
            actor=supplier_user, order=order, lines=[batch_line(ln, "3") for ln in order.lines.all()]
        )
        decisions = [{"line": dl, "result": "accept"} for dl in delivery.lines.all()]
        t = time.perf_counter()
        services.delivery_accept(actor=store, delivery=delivery, decisions=decisions)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    print(
        f"accept a {len(grain_items)}-line delivery:             median {statistics.median(samples):6.1f} ms   "
        f"p95 {samples[int(len(samples) * 0.95) - 1]:6.1f} ms"
    )


if __name__ == "__main__":
    main()
