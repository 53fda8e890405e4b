#!/usr/bin/env python
"""Notification benchmark: a district's lunch hour with the per-meal guardian message on.

    .venv/bin/python bench/notify.py [--small] [--charges 60000] [--off-charges 10000]
                                     [--threads 4] [--keep]

On its own PostgreSQL database `bench_notify`: one campus with (charges + off-charges)
students, each with a guardian bound to a WeChat openid who asked for a message on every meal.
Checkouts go through the real service (`consumption.services.checkout_record`: the one-call
PostgreSQL checkout, the ledger charge, the outbox event), from T threads in this process.

1. Notifications OFF: `off-charges` checkouts with no notification process: the checkout rate.
2. Notifications ON: `charges` checkouts while `manage.py notify_worker` runs beside them and
   delivers every per-meal message to a local server speaking the WeChat Official Account API
   (token + template/send, port 22050, its own process): the checkout rate again, messages
   delivered per second, and event → delivered (the outbox event's time to the delivery's
   sent time) p50/p95/max, after the last message is out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from datetime import time as dtime
from pathlib import Path
from urllib import request

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
DB_NAME = "bench_notify"
PG = os.environ.get("CANTEEN_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PROVIDER_PORT = 22050


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def recreate_database(drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def configure_environment() -> dict[str, str]:
    env = {
        "CANTEEN_DATABASE_URL": f"{PG}/{DB_NAME}",
        "DJANGO_SETTINGS_MODULE": "canteen.settings.production",
        "CANTEEN_SECRET_KEY": "bench-" + "k" * 50,
        "CANTEEN_FACE_KEY": os.environ.get("CANTEEN_FACE_KEY", "ZGVtby1vbmx5LWZhY2Uta2V5LTMyLWJ5dGVzLWxvbmchIQ=="),
        "CANTEEN_SSL_REDIRECT": "0",
        "CANTEEN_LOG_LEVEL": "WARNING",
        "CANTEEN_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CANTEEN_NOTIFY_WECHAT_URL": f"http://127.0.0.1:{PROVIDER_PORT}",
        "CANTEEN_NOTIFY_WECHAT_APPID": "wx-test-app",
        "CANTEEN_NOTIFY_WECHAT_SECRET": "wx-test-secret",
        "CANTEEN_NOTIFY_WECHAT_TEMPLATE": "tmpl-meal",
    }
    os.environ.update(env)
    return env


def seed(students: int) -> dict:
    from canteen.meals import services as meals_services
    from canteen.meals.choices import SessionKind
    from canteen.meals.tests.factories import make_meal_setup
    from canteen.notify.models import Address, Preference
    from canteen.org.models import (
        Campus,
        Canteen,
        City,
        District,
        Guardian,
        GuardianLink,
        School,
        SchoolClass,
        ServingWindow,
        Student,
    )

    city = City.objects.create(name="基准市", code="N1")
    district = District.objects.create(city=city, name="基准区", code="N1D")
    school = School.objects.create(district=district, name="基准小学", code="N1S", stage="primary")
    campus = Campus.objects.create(school=school, name="本部", code="N1S-1")
    canteen = Canteen.objects.create(campus=campus, name="基准食堂", code="N1S-1-C1")
    window = ServingWindow.objects.create(canteen=canteen, name="1号窗口", code="N1S-1-C1-W1")
    klass = SchoolClass.objects.create(campus=campus, grade=4, name="四年级1班", entry_year=2023)
    Student.objects.bulk_create(
        [
            Student(
                campus=campus,
                school_class=klass,
                student_number=f"N{i:06d}",
                name=f"学生{i}",
                gender="m" if i % 2 else "f",
                birth_date=date(2016, 1, 1),
            )
            for i in range(students)
        ],
        batch_size=5000,
    )
    roster = list(Student.objects.filter(campus=campus).order_by("student_number"))
    guardians = Guardian.objects.bulk_create(
        [Guardian(name=f"家长{i}", phone=f"139{i:08d}") for i in range(students)], batch_size=5000
    )
    GuardianLink.objects.bulk_create(
        [
            GuardianLink(guardian=g, student=s, relation="mother", is_primary=True)
            for g, s in zip(guardians, roster, strict=True)
        ],
        batch_size=5000,
    )
    Address.objects.bulk_create(
        [Address(channel="wechat", address=f"openid-{g.pk.hex[:16]}", guardian=g) for g in guardians], batch_size=5000
    )
    Preference.objects.bulk_create(
        [Preference(recipient_key=f"guardian:{g.pk}", guardian=g, meal_charged=True) for g in guardians],
        batch_size=5000,
    )
    setup = make_meal_setup(campus, kinds=())
    session = meals_services.meal_session_set(
        actor=None, campus=campus, kind=SessionKind.LUNCH, serve_start=dtime(0, 0), serve_end=dtime(23, 59, 59)
    )
    from django.utils import timezone

    menu = meals_services.menu_set_entries(
        actor=None,
        campus=campus,
        session=session,
        day=timezone.localdate(),
        entries={sm: list(sm.dishes.all()) for sm in setup.set_meals.values()},
    )
    meals_services.menu_publish(actor=None, menu=menu)
    return {"window": window, "roster": roster}


def run_checkouts(window, students: list, threads: int) -> dict:
    """Each thread a window terminal: one QR checkout per student through the service."""
    from django.db import close_old_connections

    from canteen.consumption.services import checkout_record

    ok = [0] * threads
    failed: dict[str, int] = {}
    barrier = threading.Barrier(threads + 1)

    def terminal(n: int) -> None:
        mine = students[n::threads]
        barrier.wait()
        for student in mine:
            try:
                checkout_record(
                    student=student, method="qr", idempotency_key=uuid.uuid4().hex, actor=None, window=window
                )
                ok[n] += 1
            except Exception as exc:  # noqa: BLE001 (counted and shown)
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
        close_old_connections()

    pool = [threading.Thread(target=terminal, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    return {"ok": sum(ok), "failed": failed, "wall_s": wall, "rate": sum(ok) / wall if wall else 0}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def provider_stats() -> dict:
    with request.urlopen(f"http://127.0.0.1:{PROVIDER_PORT}/_stats", timeout=10) as resp:  # noqa: S310
        return json.loads(resp.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="3,000 charges on, 1,000 off (about two minutes)")
    parser.add_argument("--charges", type=int, default=60_000)
    parser.add_argument("--off-charges", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4, help="concurrent checkout threads (terminals)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    if args.small:
        args.charges, args.off_charges = 3_000, 1_000
    env = configure_environment()
    recreate_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    # The wallets start empty and may go into overdraft: funding 70,000 wallets is not what is
    # measured (the charge still runs through the ledger with its guarded update).
    settings.CANTEEN_WALLET_OVERDRAFT_FEN = 10**9
    t0 = time.perf_counter()
    made = seed(args.charges + args.off_charges)
    print(f"# seeded {len(made['roster'])} students with guardians in {time.perf_counter() - t0:.1f} s")
    roster = made["roster"]
    off_students, on_students = roster[: args.off_charges], roster[args.off_charges :]

    provider = subprocess.Popen(
        [sys.executable, "-m", "canteen.notify.testing", str(PROVIDER_PORT)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        text=True,
    )
    provider.stdout.readline()
    worker = None
    try:
        # Warm-up: a few checkouts, then ANALYZE as autovacuum would have by then.
        run_checkouts(made["window"], off_students[:200], 2)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        cpu0 = time.process_time()
        off = run_checkouts(made["window"], off_students[200:], args.threads)
        off["cpu_ms"] = (time.process_time() - cpu0) * 1000 / max(off["ok"], 1)
        print(
            f"notifications OFF: {off['ok']} checkouts in {off['wall_s']:.1f} s = {off['rate']:.0f}/s  failed={off['failed']}"
        )

        from canteen.core.models import OutboxEvent
        from canteen.notify.models import Delivery, OutboxCursor

        # The per-meal messages of the OFF part are not what is measured: start after them.
        last = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        OutboxCursor.objects.update_or_create(name="notify", defaults={"last_id": last, "gaps": {}})
        worker = subprocess.Popen(
            [sys.executable, str(PROJECT / "manage.py"), "notify_worker"],
            cwd=PROJECT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        worker.stdout.readline()
        cpu0 = time.process_time()
        on = run_checkouts(made["window"], on_students, args.threads)
        on["cpu_ms"] = (time.process_time() - cpu0) * 1000 / max(on["ok"], 1)
        print(
            f"notifications ON:  {on['ok']} checkouts in {on['wall_s']:.1f} s = {on['rate']:.0f}/s  failed={on['failed']}"
        )
        t_end = time.perf_counter()
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            sent = Delivery.objects.filter(status="sent").count()
            if sent >= on["ok"]:
                break
            time.sleep(1)
        drain_s = time.perf_counter() - t_end
        rows = list(Delivery.objects.filter(status="sent").values_list("event_at", "sent_at"))
        lat = [(s - e).total_seconds() for e, s in rows]
        first = min(s for _e, s in rows)
        last_sent = max(s for _e, s in rows)
        span = (last_sent - first).total_seconds() or 1
        stats = provider_stats()
        from django.db.models import Count

        others = {
            r["status"]: r["n"]
            for r in Delivery.objects.exclude(status="sent").values("status").annotate(n=Count("id"))
        }
        print(
            f"messages delivered: {len(rows)} (provider received {stats['wechat']}) over {span:.1f} s = "
            f"{len(rows) / span:.0f} messages/s; {drain_s:.1f} s after the last checkout to drain; not sent: {others}"
        )
        print(
            f"event → delivered: p50 {pct(lat, 50):.2f} s  p95 {pct(lat, 95):.2f} s  max {max(lat):.2f} s"
            f"  (goal p95 ≤ 5 s)"
        )
        print(f"checkout rate ON/OFF: {on['rate'] / off['rate']:.2f}")
        worker_cpu, provider_cpu = cpu_seconds(worker.pid), cpu_seconds(provider.pid)
        print(
            f"CPU: checkout {off['cpu_ms']:.1f} ms (OFF) / {on['cpu_ms']:.1f} ms (ON) per checkout in this process"
            f" (Python side; PostgreSQL not counted); notify_worker {worker_cpu * 1000 / max(len(rows), 1):.1f} ms"
            f" per message; the provider server {provider_cpu * 1000 / max(len(rows), 1):.1f} ms per message"
        )
        with open("/proc/loadavg") as f:
            print(f"# load average during the run: {f.read().split()[:3]} on {os.cpu_count()} CPUs")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(10)
        provider.terminate()
        provider.wait(10)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            recreate_database(drop_only=True)


if __name__ == "__main__":
    main()
