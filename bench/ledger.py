#!/usr/bin/env python
"""Ledger throughput on PostgreSQL beside pgbench's simple-update, in the same run.

    .venv/bin/python bench/ledger.py [--small] [--clients 8] [--seconds 15] [--python-path]

1. pgbench: a scratch database (bench_ledger_pgbench), `pgbench -i`, then `-b simple-update`
   with the same number of clients: the reference TPS for this machine, now; with one client:
   the serial commit ceiling (one transaction at a time, each waiting for its flush); and the
   same transaction with every client on ONE account row: PostgreSQL's own single-row ceiling,
   the like-for-like reference for charges on one wallet.
2. The ledger: a scratch database (bench_ledger) migrated by Django; N worker processes call
   canteen.ledger.services.meal_charge, the production code path (on PostgreSQL one call of
   the ledger_meal_charge function: idempotent posting, two entries, outbox event, guarded
   wallet UPDATE; `--python-path` forces the generic Python path for comparison) for a fixed time
   a) all on ONE wallet (the worst case: every charge waits for the same row lock);
   b) each on its own wallet;
   c) one wallet again with the other domains' in-process subscribers (supervision's rollups).
   Figures are postings committed per second, and the workers' Python CPU per charge
   (time.process_time); goal: single-wallet >= 50% of pgbench TPS.
3. pgbench once more after each round, to show how much the machine's load drifted.
Both scratch databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
DB = "bench_ledger"
PGBENCH_DB = "bench_ledger_pgbench"
os.environ["CANTEEN_DATABASE_URL"] = f"{SERVER}/{DB}"
os.environ["DJANGO_SETTINGS_MODULE"] = "canteen.settings.test"


def pg_args() -> list[str]:
    from urllib.parse import urlparse

    url = urlparse(SERVER)
    args = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    return args


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def pgbench_binary() -> str:
    for candidate in ("/usr/lib/postgresql/15/bin/pgbench", shutil.which("pgbench")):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("pgbench not found")


def run_pgbench(clients: int, seconds: int, initialise: bool, script: list[str] | None = None, db: str = "") -> float:
    """TPS of `-b simple-update` on the pgbench database, or of `script` (pgbench's -f
    arguments) on `db`."""
    pgbench = pgbench_binary()
    if initialise:
        admin_sql(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
        admin_sql(f"CREATE DATABASE {PGBENCH_DB}")
        subprocess.run(
            [pgbench, *pg_args(), "-i", "-q", "-s", str(max(1, clients)), PGBENCH_DB], check=True, capture_output=True
        )
    jobs = min(clients, os.cpu_count() or 1)
    workload = script or ["-b", "simple-update"]
    out = subprocess.run(
        [
            pgbench,
            *pg_args(),
            "-n",
            *workload,
            "-c",
            str(clients),
            "-j",
            str(jobs),
            "-T",
            str(seconds),
            db or PGBENCH_DB,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if not match:
        raise SystemExit(f"could not read pgbench output:\n{out}")
    return float(match.group(1))


def setup_django_db() -> tuple[list, object]:
    import django

    admin_sql(f"DROP DATABASE IF EXISTS {DB}")
    admin_sql(f"CREATE DATABASE {DB}")
    django.setup()
    from datetime import date

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from canteen.core.money import Money
    from canteen.ledger import services
    from canteen.org.models import Campus, City, District, School, SchoolClass, Student

    city = City.objects.create(name="基准市", code="B1")
    district = District.objects.create(city=city, name="基准区", code="B1D")
    school = School.objects.create(district=district, name="基准小学", code="B1S", stage="primary")
    campus = Campus.objects.create(school=school, name="本部", code="B1S-1")
    klass = SchoolClass.objects.create(campus=campus, grade=4, name="四年级1班", entry_year=2023)
    students = [
        Student.objects.create(
            campus=campus,
            school_class=klass,
            student_number=f"B{n:05d}",
            name=f"学生{n}",
            gender="m",
            birth_date=date(2016, 1, 1),
        )
        for n in range(64)
    ]
    for s in students:
        services.top_up(student=s, amount=Money(10**12), channel="bank", idempotency_key=f"seed-{s.pk}", actor=None)
    return students, campus


# pgbench's own simple-update transaction, every client on the same account row (aid 1): what
# PostgreSQL itself does when all writers share one row, the like-for-like reference for charges
# on one wallet (the builtin spreads its updates over 100,000 rows per scale unit).
ONE_ROW_SIMPLE_UPDATE = """\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = 1;
SELECT abalance FROM pgbench_accounts WHERE aid = 1;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, :delta, CURRENT_TIMESTAMP);
END;
"""


def run_pgbench_one_row(clients: int, seconds: int) -> float:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(ONE_ROW_SIMPLE_UPDATE)
        script.flush()
        return run_pgbench(clients, seconds, initialise=False, script=["-f", script.name])


# One meal charge of 0.01 on one wallet, with a fresh key; pgbench fills in the -D variables.
FUNCTION_CALL = (
    "SELECT * FROM ledger_meal_charge(gen_random_uuid(), 'pgbench-' || :client_id || '-' || random()::text,"
    " current_date, 1, 1, '', NULL, 'pgbench', ':student', ':campus', ':school', ':district', 'bench',"
    " ':wallet', ':revenue', now(), true);\n"
)


def run_pgbench_function(student, clients: int, seconds: int) -> float:
    """The meal-charge function alone, called by pgbench's C client on one wallet: what the
    database side costs without Python."""
    import tempfile

    from canteen.ledger import services
    from canteen.ledger.choices import AccountKind

    scope = services.campus_scope(student.campus_id)
    wallet = services.wallet_ref(student)
    revenue = services.house_ref(AccountKind.REVENUE, scope.campus_id)
    ids = {
        "student": student.pk,
        "campus": scope.campus_id,
        "school": scope.school_id,
        "district": scope.district_id,
        "wallet": wallet.id,
        "revenue": revenue.id,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(FUNCTION_CALL)
        script.flush()
        variables = [arg for name, value in ids.items() for arg in ("-D", f"{name}={value}")]
        return run_pgbench(clients, seconds, initialise=False, script=["-f", script.name, *variables], db=DB)


def charge_worker(student_ids: list, campus_id, seconds: float, prefix: str, start, results, quiet: bool) -> None:
    from django.db import connections

    from canteen.core import events
    from canteen.core.money import Money
    from canteen.ledger.services import meal_charge
    from canteen.org.models import Student

    if quiet:  # measure the ledger alone, without other domains' in-process subscribers
        for topic in list(events._subscribers):
            if topic.startswith("ledger."):
                events._subscribers[topic] = []
    students = list(Student.objects.filter(pk__in=student_ids))
    n = 0
    start.wait()
    cpu = time.process_time()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        student = students[n % len(students)]
        meal_charge(
            student=student, amount=Money(1), idempotency_key=f"{prefix}-{n}", campus=campus_id, meal_ref="bench"
        )
        n += 1
    cpu = time.process_time() - cpu
    connections.close_all()
    results.put((n, cpu))


def run_ledger(
    students: list, campus, clients: int, seconds: float, single: bool, quiet: bool, tag: str
) -> tuple[float, float]:
    """(postings per second, the workers' Python CPU in µs per posting)."""
    from django.db import connections

    connections.close_all()  # never share a connection across fork
    ctx = mp.get_context("fork")
    start = ctx.Event()
    results = ctx.Queue()
    procs = []
    for c in range(clients):
        ids = [students[0].pk] if single else [students[c % len(students)].pk]
        p = ctx.Process(target=charge_worker, args=(ids, campus.pk, seconds, f"{tag}-{c}", start, results, quiet))
        p.start()
        procs.append(p)
    time.sleep(1.5)  # let every worker connect and load its student
    start.set()
    counts = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    total = sum(n for n, _ in counts)
    return total / seconds, sum(cpu for _, cpu in counts) / max(total, 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="short runs (5 s each)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--python-path", action="store_true", help="force the generic Python path (not production on PostgreSQL)"
    )
    args = parser.parse_args()
    seconds = 5 if args.small else args.seconds
    if args.small:
        args.rounds = 1
    print(f"load before: {os.getloadavg()}, clients={args.clients}, {seconds}s per run")
    try:
        # The machine is shared: alternate pgbench and ledger runs so that both see the same load,
        # and compare each ledger figure with the pgbench runs on either side of it.
        pg = [run_pgbench(args.clients, seconds, initialise=True)]
        print(f"pgbench simple-update TPS: {pg[-1]:,.0f}")
        # One client: one transaction at a time, each waiting for its commit. This is the ceiling
        # for anything serialized on one row, such as all charges on a single wallet.
        tps_serial = run_pgbench(1, seconds, initialise=False)
        print(f"pgbench simple-update TPS, 1 client (serial commit ceiling): {tps_serial:,.0f}")
        tps_one_row = run_pgbench_one_row(args.clients, seconds)
        print(f"pgbench simple-update on ONE row, {args.clients} clients (single-row ceiling) TPS: {tps_one_row:,.0f}")
        students, campus = setup_django_db()
        from django.conf import settings

        from canteen.ledger import services

        if args.python_path:
            settings.CANTEEN_LEDGER_DB_FUNCTIONS = False  # inherited by the forked workers
        path = "PostgreSQL function ledger_meal_charge" if services._db_functions() else "generic Python path"
        print(f"meal_charge path: {path}")
        single: list[float] = []
        many: list[float] = []
        for r in range(args.rounds):
            rate, cpu = run_ledger(students, campus, args.clients, seconds, True, True, f"s{r}")
            single.append(rate)
            print(f"ledger meal_charge, one wallet, ledger only:  {rate:,.0f} postings/s, Python CPU {cpu:.0f} µs each")
            rate, cpu = run_ledger(students, campus, args.clients, seconds, False, True, f"m{r}")
            many.append(rate)
            print(
                f"ledger meal_charge, {args.clients} wallets, ledger only: {rate:,.0f} postings/s, Python CPU {cpu:.0f} µs each"
            )
            pg.append(run_pgbench(args.clients, seconds, initialise=False))
            print(f"pgbench simple-update TPS: {pg[-1]:,.0f}")
        subscribed, cpu = run_ledger(students, campus, args.clients, seconds, True, False, "sub")
        print(
            f"ledger meal_charge, one wallet, with other domains' subscribers: {subscribed:,.0f} postings/s, "
            f"Python CPU {cpu:.0f} µs each"
        )
        if services._db_functions():
            function_only = run_pgbench_function(students[0], args.clients, seconds)
            print(
                f"pgbench -f ledger_meal_charge (the function alone, no Python), one wallet: {function_only:,.0f} TPS"
            )
        reference = sum(pg) / len(pg)
        best_single = max(single)
        best_many = max(many)
        print(f"pgbench mean {reference:,.0f} TPS over {len(pg)} runs")
        print(
            f"single-wallet / pgbench: best {best_single / reference:.0%}, mean {sum(single) / len(single) / reference:.0%}"
        )
        print(
            f"{args.clients} wallets / pgbench: best {best_many / reference:.0%}, mean {sum(many) / len(many) / reference:.0%}"
        )
        print(f"pgbench simple-update, 1 client: {tps_serial:,.0f} TPS")
        print(f"single-wallet / pgbench 1 client: best {best_single / tps_serial:.0%}")
        print(
            f"single-wallet / pgbench on one row, {args.clients} clients: best {best_single / tps_one_row:.0%}; "
            f"pgbench on one row / pgbench: {tps_one_row / reference:.0%}"
        )
        from canteen.ledger.services import balances_rebuild

        print(f"balance differences after the run: {len(balances_rebuild())}")
        print(f"load after: {os.getloadavg()}")
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not be set up yet
            pass
        admin_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin_sql(f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
