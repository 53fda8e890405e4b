#!/usr/bin/env python
"""Menu-board benchmark: how fast the public board page and the parents' phone page answer,
and how fast the serving window gets a student's meal offer.

    .venv/bin/python bench/menu_board.py [--small] [--keep]

Sets up its own PostgreSQL database `bench_meals` (dropped at the end unless --keep), seeds the
demo organisation (51 campuses, or 6 with --small) and the meals demo (dishes, this week's
published menus, plans), then:
1. board page over HTTP: gunicorn (2 sync workers) on localhost, one keep-alive client, N
   sequential GETs of one canteen's board (the first one is cold: menus not yet cached), then
   8 concurrent clients over all the boards;
2. phone page over HTTP, the same way;
3. meal_offer_for in process: queries and latency, cold (empty cache) and warm.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
DB_NAME = "bench_meals"
PG = os.environ.get("CANTEEN_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PORT = int(os.environ.get("CANTEEN_BENCH_PORT", "8763"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def line(label: str, values: list[float], unit: str = "ms") -> str:
    return (
        f"{label:<46} n={len(values):<5} median={statistics.median(values):7.2f} {unit}"
        f"  p95={pct(values, 95):7.2f} {unit}  max={max(values):7.2f} {unit}"
    )


def database(action: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def configure() -> dict[str, str]:
    env = {
        "CANTEEN_DATABASE_URL": f"{PG}/{DB_NAME}",
        "DJANGO_SETTINGS_MODULE": "canteen.settings.local",
        "CANTEEN_DEBUG": "0",
        "CANTEEN_LOG_LEVEL": "WARNING",
        "CANTEEN_DATA_DIR": str(PROJECT / "var" / "bench-meals"),
    }
    os.environ.update(env)
    return env


def seed(small: bool) -> list[str]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from canteen.meals import demo
    from canteen.meals.models import MenuBoard
    from canteen.org.demo import seed_organisation

    started = time.monotonic()
    if small:
        ctx = seed_organisation(schools=4, campuses=6, students_per_campus=40)
    else:
        ctx = seed_organisation()
    org_s = time.monotonic() - started
    started = time.monotonic()
    demo.seed(ctx)
    print(
        f"seed: organisation {org_s:.1f} s, meals demo {time.monotonic() - started:.1f} s, {len(ctx.campuses)} campuses"
    )
    return list(MenuBoard.objects.order_by("canteen__code").values_list("token", flat=True))


def http_get(conn: http.client.HTTPConnection, path: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or b"\xe5\xa5\x97\xe9\xa4\x90" not in body:  # "套餐"
        raise RuntimeError(f"{path}: {response.status}")
    return elapsed


def bench_http(tokens: list[str], requests: int) -> None:
    env = dict(os.environ)
    server = subprocess.Popen(
        [
            str(PROJECT / ".venv" / "bin" / "gunicorn"),
            "canteen.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                probe = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
                probe.request("GET", "/healthz")
                probe.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
        for label, prefix in (("board page", "/meals/board/"), ("phone page", "/meals/m/")):
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            path = f"{prefix}{tokens[0]}/"
            first = http_get(conn, path)
            times = [http_get(conn, path) for _ in range(requests)]
            print(f"{label}: first request (templates not yet loaded, menus not cached) {first:.1f} ms")
            print(line(f"{label}, 1 client, same canteen", times))
            results: list[float] = []
            lock = threading.Lock()

            def client(offset: int, prefix: str = prefix, results: list = results, lock=lock) -> None:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                local = []
                for i in range(requests // 4):
                    local.append(http_get(c, f"{prefix}{tokens[(offset + i) % len(tokens)]}/"))
                with lock:
                    results.extend(local)

            started = time.perf_counter()
            threads = [threading.Thread(target=client, args=(k * 7,)) for k in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
            print(line(f"{label}, 8 clients, {len(tokens)} canteens", results))
            print(f"{label}: {len(results) / wall:.0f} pages/s with 8 clients")
    finally:
        server.terminate()
        server.wait(timeout=10)


def bench_offer(requests: int) -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from canteen.meals import selectors
    from canteen.meals.choices import SessionKind
    from canteen.meals.models import MealSession
    from canteen.org.models import Student

    session = MealSession.objects.filter(kind=SessionKind.LUNCH).select_related("campus").first()
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    at = timezone.make_aware(datetime.combine(monday, session.serve_start) + timedelta(minutes=10))
    students = list(Student.objects.filter(campus=session.campus)[:requests])
    cache.clear()
    with CaptureQueriesContext(connection) as cold_q:
        started = time.perf_counter()
        offer = selectors.meal_offer_for(student=students[0], at=at)
        cold = (time.perf_counter() - started) * 1000
    assert offer is not None
    times, queries = [], []
    for student in students:
        with CaptureQueriesContext(connection) as q:
            started = time.perf_counter()
            selectors.meal_offer_for(student=student, at=at)
            times.append((time.perf_counter() - started) * 1000)
        queries.append(len(q))
    print(f"meal_offer_for: cold {cold:.1f} ms with {len(cold_q)} queries; warm {max(queries)} query each")
    print(line("meal_offer_for, warm, one campus's students", times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    configure()
    database("create")
    try:
        tokens = seed(args.small)
        requests = 40 if args.small else 200
        bench_http(tokens, requests)
        bench_offer(requests)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            database("drop")


if __name__ == "__main__":
    main()
