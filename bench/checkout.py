#!/usr/bin/env python
"""Checkout benchmark: identify latency, checkout API throughput on PostgreSQL, frame-to-screen.

    .venv/bin/python bench/checkout.py [--small] [--keep] [--api-only | --e2e-only] [--seconds 10]
                                       [--server-cpus 0] [--no-instructions]

1. Identify: per camera frame, dlib HOG detection of faces of 100 px or more (the terminal's
   window scan; the whole pyramid is printed beside it) + 5-point landmarks + 128-d embedding,
   and the 1:N match against a 5,000-row campus gallery. The gallery holds the real templates
   of 8 people (photos shipped in packages) padded with random unit vectors to 5,000 rows; the
   match cost depends only on the row count, and a random unit vector is never near a real
   face, so accuracy on the 8 people is still checked.
2. Checkout API: gunicorn on localhost against its own database `bench_consumption`, with the
   worker (rollup fold) beside it, started and through its first round of periodic jobs before
   the clock; T concurrent "terminals", each with its own token and
   keep-alive connection, post one QR checkout per student, each with its Idempotency-Key:
   first driven by wrk (bench/checkout_load.lua, one thread per terminal: a load generator that
   leaves the two cores to the server), then by the terminals' own Python client (threads here).
   Between a warm-up and the clock the bench runs ANALYZE, as autovacuum would have by then:
   without it (this machine's PostgreSQL runs with autovacuum off) every checkout scanned the
   whole meal record table through a plan cached while it was empty.
   Reports latency, throughput, where busy PostgreSQL backends wait, and the server's CPU per
   checkout (gunicorn workers + worker + their backends, from /proc). `--server-cpus 0` pins the
   server to CPU 0 and the load to the rest, to see how throughput follows the cores. Last, the
   instructions the web process executes per checkout, counted by callgrind (valgrind) with the
   express lane and through Django's whole chain: a figure the machine's speed does not move.
3. Frame to screen: the real terminal agent (in this process) with its kiosk page open in
   headless Chromium: from the moment a frame is handed to the agent to the moment the page has
   painted the result (the page reports Date.now() after two animation frames). Two figures:
   name on screen (identified) and charge confirmed on screen (served), each split at the
   agent's show() call into the agent's share and the page's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from datetime import time as dtime
from pathlib import Path

# One BLAS thread: the match is a (5000×128)·(128) product, far too small to gain from threads,
# and on a busy 2-core machine a BLAS thread pool only adds contention (measured: 17 ms vs 0.1 ms).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_consumption")
PG = os.environ.get("CANTEEN_BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def line(label: str, values: list[float], unit: str = "ms") -> str:
    return (
        f"{label:<44} n={len(values):<5} median={statistics.median(values):7.1f} {unit}"
        f"  p95={pct(values, 95):7.1f} {unit}  max={max(values):7.1f} {unit}"
    )


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def configure_environment() -> dict[str, str]:
    env = {
        "CANTEEN_DATABASE_URL": f"{PG}/{DB_NAME}",
        "DJANGO_SETTINGS_MODULE": "canteen.settings.production",
        "CANTEEN_SECRET_KEY": "bench-" + "k" * 50,
        "CANTEEN_FACE_KEY": os.environ.get("CANTEEN_FACE_KEY", "ZGVtby1vbmx5LWZhY2Uta2V5LTMyLWJ5dGVzLWxvbmchIQ=="),
        "CANTEEN_SSL_REDIRECT": "0",
        "CANTEEN_LOG_LEVEL": "WARNING",
        "CANTEEN_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    os.environ.update(env)
    # Playwright's sync API runs an event loop in this thread; the ORM calls beside it are sync.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return env


# -- 1. identify -------------------------------------------------------------------------------


def bench_identify(frames_per_person: int) -> dict:
    import numpy as np

    from canteen.identity.engine import FaceEngine
    from canteen.identity.gallery import Gallery
    from canteen.identity.tests import faces

    engine = FaceEngine.default()
    portraits = faces.portraits()
    names = list(portraits)
    real = np.stack([engine.embed_single(np.asarray(portraits[n])) for n in names])
    rng = np.random.default_rng(7)
    filler = rng.normal(size=(5000 - len(names), 128)).astype(np.float32)
    ids = names + [f"filler-{i}" for i in range(len(filler))]
    gallery = Gallery.from_templates(ids, np.vstack([real, filler]))
    augment = list(faces.AUGMENTATIONS.values())
    frames = []
    for i, name in enumerate(names):
        for k in range(frames_per_person):
            view = augment[k % len(augment)](portraits[name])
            frames.append((name, faces.window_frame(view, face_width=120 + 10 * (k % 3), seed=100 * i + k)))
    engine.embed_frame(frames[0][1])  # warm-up
    embed_ms, full_ms, match_ms, total_ms, correct, decisions = [], [], [], [], 0, {}
    for name, frame in frames:
        # For comparison: the whole pyramid, every face embedded (what enrolment-style code does).
        t0 = time.perf_counter()
        engine.embed_frame(frame)
        full_ms.append((time.perf_counter() - t0) * 1000)
        # The terminal's way: faces of 100 px or more, the largest one embedded.
        t0 = time.perf_counter()
        boxes = engine.detect(frame, min_face_px=100)
        found = [(boxes[0], engine.embed(frame, boxes[0]))] if boxes else []
        t1 = time.perf_counter()
        match = gallery.identify(found[0][1]) if found else None
        t2 = time.perf_counter()
        embed_ms.append((t1 - t0) * 1000)
        match_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
        decision = match.decision if match else "no_face"
        decisions[decision] = decisions.get(decision, 0) + 1
        correct += bool(match and match.decision == "accept" and match.student_id == name)
    return {
        "gallery": len(gallery),
        "frames": len(frames),
        "embed_ms": embed_ms,
        "full_ms": full_ms,
        "match_ms": match_ms,
        "total_ms": total_ms,
        "correct_accepts": correct,
        "decisions": decisions,
    }


# -- data --------------------------------------------------------------------------------------


def seed(students: int, terminals: int) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from canteen.consumption.services import terminal_register
    from canteen.core.money import Money
    from canteen.identity import services as identity_services
    from canteen.identity.models import TemplateSource
    from canteen.identity.tests import faces
    from canteen.ledger import services as ledger_services
    from canteen.meals import services as meals_services
    from canteen.meals.choices import SessionKind
    from canteen.meals.tests.factories import make_meal_setup
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
        User,
    )

    city = City.objects.create(name="基准市", code="B1")
    district = District.objects.create(city=city, name="基准区", code="B1D")
    school = School.objects.create(district=district, name="基准小学", code="B1S", stage="primary")
    campus = Campus.objects.create(school=school, name="本部", code="B1S-1")
    canteen = Canteen.objects.create(campus=campus, name="基准食堂", code="B1S-1-C1")
    windows = ServingWindow.objects.bulk_create(
        [ServingWindow(canteen=canteen, name=f"{w}号窗口", code=f"B1S-1-C1-W{w}") for w in range(1, terminals + 1)]
    )
    klass = SchoolClass.objects.create(campus=campus, grade=4, name="四年级1班", entry_year=2023)
    Student.objects.bulk_create(
        [
            Student(
                campus=campus,
                school_class=klass,
                student_number=f"B{i:06d}",
                name=f"学生{i}",
                gender="m" if i % 2 else "f",
                birth_date=date(2016, 1, 1),
            )
            for i in range(students)
        ]
    )
    roster = list(Student.objects.filter(campus=campus).order_by("student_number"))
    manager = User.objects.create(
        username="bench-manager", role="canteen_manager", campus=campus, school=school, password=make_password("x")
    )
    setup = make_meal_setup(campus, kinds=())
    session = meals_services.meal_session_set(
        actor=None, campus=campus, kind=SessionKind.LUNCH, serve_start=dtime(0, 0), serve_end=dtime(23, 59, 59)
    )
    menu = meals_services.menu_set_entries(
        actor=None,
        campus=campus,
        session=session,
        day=timezone.localdate(),
        entries={sm: list(sm.dishes.all()) for sm in setup.set_meals.values()},
    )
    meals_services.menu_publish(actor=None, menu=menu)
    t0 = time.perf_counter()
    for student in roster:
        ledger_services.top_up(
            student=student, amount=Money(100_00), channel="cash", idempotency_key=f"bench-{student.pk}", actor=None
        )
    fund_s = time.perf_counter() - t0
    tokens = [terminal_register(window=w, actor=manager, code=f"BT{i}")[1] for i, w in enumerate(windows)]
    qr_cards = [identity_services.qr_credential_issue(student=s, actor=manager) for s in roster]
    # Eight real people enrolled (guardian consent + photo), for the frame-to-screen run.
    portraits = faces.portraits()
    faced = {}
    for i, (name, image) in enumerate(portraits.items()):
        student = roster[-(i + 1)]
        user = User.objects.create(username=f"bench-g{i}", role="guardian", password=make_password("x"))
        guardian = Guardian.objects.create(name=f"家长{i}", phone=f"1380000{i:04d}", user=user)
        GuardianLink.objects.create(guardian=guardian, student=student, relation="mother", is_primary=True)
        identity_services.consent_give(student=student, actor=user)
        identity_services.face_enrol(
            student=student, actor=user, photos=[faces.jpeg_bytes(image)], source=TemplateSource.GUARDIAN_UPLOAD
        )
        faced[name] = student
    return {
        "campus": campus,
        "windows": windows,
        "qr_cards": qr_cards[: students - len(portraits)],
        "faced": faced,
        "tokens": tokens,
        "manager": manager,
        "fund_s": fund_s,
    }


# -- 2. checkout API ---------------------------------------------------------------------------


def gather_statistics() -> None:
    """ANALYZE, as autovacuum would have by now: the warm-up has written the first meal records,
    and a plan cached while the tables were empty (a sequential scan of the meal records) must
    not be what the run measures. ANALYZE also invalidates the server's cached plans."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    print(f"# ANALYZE after the warm-up (this server's autovacuum: {autovacuum})")


def start_gunicorn(env: dict, port: int, workers: int, threads: int, worker_class: str = "gthread") -> subprocess.Popen:
    import http.client

    proc = subprocess.Popen(
        [
            str(PROJECT / ".venv/bin/gunicorn"),
            "canteen.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            worker_class,
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def start_worker(env: dict) -> subprocess.Popen:
    """`manage.py worker`, as `canteen up` runs it, once its first round of jobs is done: a fresh
    worker runs every periodic job at once (today's nutrition subsidy for every student, the
    campus dimension, partitions...), work of a morning, not of the checkouts measured next."""
    proc = subprocess.Popen(
        [sys.executable, "-u", str(PROJECT / "manage.py"), "worker"],
        cwd=PROJECT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()  # "worker: N jobs: a, b, ..."
    jobs = int(first.split()[1]) if first.startswith("worker:") else 0
    t0 = time.perf_counter()
    for _ in range(jobs):
        if not proc.stdout.readline():
            break
    print(f"# the worker's first round of {jobs} jobs took {time.perf_counter() - t0:.1f} s (before the clock)")
    # Keep reading what it logs, so that its pipe never fills.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(ppid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                kids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return kids


def _server_cpu(gunicorn_pid: int, worker_pid: int | None = None) -> tuple[float, float, float]:
    """CPU seconds (web, worker, database): the gunicorn workers, the worker process, and the
    PostgreSQL backends serving them (those connected to the bench database, other than this
    process's own): what one checkout costs the machine, whatever else is running on it."""
    from django.db import connection

    own = connection.cursor().connection.info.backend_pid
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    backends = [
        int(row.split(None, 1)[0])
        for row in out.splitlines()[1:]
        if f" {DB_NAME} " in f" {row} " and row.split(None, 1)[0].isdigit() and int(row.split(None, 1)[0]) != own
    ]
    web = sum(_cpu_seconds(p) for p in _children(gunicorn_pid))
    worker = _cpu_seconds(worker_pid) if worker_pid else 0.0
    return web, worker, sum(_cpu_seconds(p) for p in backends)


def _cpu_since(before: tuple[float, float, float], gunicorn_pid: int, worker_pid: int) -> tuple[float, float, float]:
    now = _server_cpu(gunicorn_pid, worker_pid)
    return now[0] - before[0], now[1] - before[1], now[2] - before[2]


def bench_floor_wrk(port: int, connections: int, seconds: int = 5) -> dict:
    """The floor under any API call on this stack: GET /healthz (Django, one `SELECT 1`) through
    the same gunicorn, driven by wrk with as many connections as there are terminals."""
    import re
    import shutil

    wrk = shutil.which("wrk")
    if wrk is None:
        return {}
    out = subprocess.run(
        [wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", f"http://127.0.0.1:{port}/healthz"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rate": rate, "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def bench_api(port: int, tokens: list[str], students: list[str]) -> dict:
    """`students`: one QR card token per student; each is checked out once."""
    from canteen.consumption.terminal.client import Offline, ServerClient

    per_terminal = [students[i :: len(tokens)] for i in range(len(tokens))]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(len(tokens) + 1)

    def terminal(token: str, mine: list) -> None:
        client = ServerClient(f"http://127.0.0.1:{port}", token, timeout=30)
        client.me()  # open the keep-alive connection before the clock starts
        local, codes = [], {}
        barrier.wait()
        for student in mine:
            t0 = time.perf_counter()
            try:
                # A QR card held up to the window: the server verifies the signed token, then
                # the same checkout as a face match (which the e2e part below measures).
                reply = client.checkout(key=f"bench-{uuid.uuid4().hex}", body={"method": "qr", "qr_token": student})
                status = reply.status
            except Offline:
                status = 599
            local.append((time.perf_counter() - t0) * 1000)
            codes[status] = codes.get(status, 0) + 1
        with lock:
            latencies.extend(local)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=terminal, args=(t, m)) for t, m in zip(tokens, per_terminal, strict=True)]
    for t in threads:
        t.start()
    waits: dict[str, int] = {}
    done = threading.Event()
    sampler = threading.Thread(target=_sample_waits, args=(waits, done))
    sampler.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    return {"latencies": latencies, "statuses": statuses, "wall_s": wall, "ok": statuses.get(201, 0), "waits": waits}


COUNTED = 200  # checkouts counted per handler by the instruction count (--no-instructions skips it)
COUNT_WARMUP = 30


def count_child(token: str, cards_path: str, handler: str) -> None:
    """Runs under callgrind (see bench_instructions): COUNT_WARMUP checkouts to fill the caches,
    then COUNTED checkouts with the instrumentation on, through the web process's WSGI application
    as gunicorn calls it (`lane`: canteen.wsgi, with the express lane) or through Django's own
    handler (`whole`, the reference). The PostgreSQL backend's work is not counted."""
    import io

    configure_environment()
    from canteen.wsgi import application

    if handler == "whole":
        from django.core.handlers.wsgi import WSGIHandler

        application = WSGIHandler()
    cards = Path(cards_path).read_text().split()

    def checkout(card: str, key: str) -> None:
        body = json.dumps({"method": "qr", "qr_token": card}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/consumption/checkouts/",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_ACCEPT": "*/*",
            "HTTP_AUTHORIZATION": f"Terminal {token}",
            "HTTP_IDEMPOTENCY_KEY": key,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        started = []
        response = application(environ, lambda status, headers, exc_info=None: started.append(status))
        b"".join(response)
        response.close()  # as the server does: request_finished
        if not started[0].startswith("201"):
            raise SystemExit(f"checkout answered {started[0]}")

    for i, card in enumerate(cards[:COUNT_WARMUP]):
        checkout(card, f"count-warm-{handler}-{i}")
    toggle = ["callgrind_control", "-i"]
    subprocess.run([*toggle, "on", str(os.getpid())], check=True, capture_output=True)
    for i, card in enumerate(cards[COUNT_WARMUP : COUNT_WARMUP + COUNTED]):
        checkout(card, f"count-{handler}-{i}")
    subprocess.run([*toggle, "off", str(os.getpid())], check=True, capture_output=True)


def bench_instructions(token: str, cards: list[str]) -> dict[str, float]:
    """Instructions the web process executes per checkout, counted by callgrind: unlike CPU time,
    the count does not move with what else the machine is doing (this machine's speed moved by
    a third between runs minutes apart: docs/benchmarks.md), so it shows a change in the
    web process's work that timings cannot. Two handlers, on fresh students each."""
    import shutil

    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        return {}
    per = COUNT_WARMUP + COUNTED
    out: dict[str, float] = {}
    for i, handler in enumerate(("lane", "whole")):
        mine = cards[i * per : (i + 1) * per]
        with tempfile.TemporaryDirectory(prefix="bench-count-") as tmp:
            listing = Path(tmp) / "cards"
            listing.write_text("\n".join(mine))
            subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={tmp}/callgrind.out",
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--count-child",
                    token,
                    str(listing),
                    handler,
                ],
                check=True,
                capture_output=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            totals = Path(f"{tmp}/callgrind.out").read_text().split("\ntotals:")[1].split()[0]
            out[handler] = int(totals) / COUNTED
    return out


def _postgres_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def pin_server(cpus: str, pids: list[int]) -> None:
    """taskset the server side (gunicorn and its workers, the worker, every PostgreSQL process;
    backends forked later inherit the postmaster's mask) to `cpus`, and this process (wrk is
    started from it) to the other CPUs."""
    for pid in [*pids, *_postgres_pids()]:
        subprocess.run(["taskset", "-a", "-cp", cpus, str(pid)], capture_output=True, check=False)
    others = sorted(set(range(os.cpu_count() or 1)) - {int(c) for c in cpus.split(",")})
    if others:
        os.sched_setaffinity(0, others)


def unpin_server(pids: list[int]) -> None:
    every = f"0-{(os.cpu_count() or 1) - 1}"
    for pid in [*pids, *_postgres_pids()]:
        subprocess.run(["taskset", "-a", "-cp", every, str(pid)], capture_output=True, check=False)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))


def bench_api_wrk(port: int, tokens: list[str], cards: list[str], seconds: int) -> dict:
    """The same checkouts driven by wrk (C, one thread and keep-alive connection per terminal):
    terminals are separate devices, so the load generator should take as little of this
    machine's two cores as it can; the Python client above costs about as much as a server
    worker. Each card is checked out once; a status other than 201 is reported."""
    import re
    import shutil

    wrk = shutil.which("wrk")
    if wrk is None:
        return {}
    listing = Path(tempfile.mkstemp(prefix="bench-checkout-", suffix=".tsv")[1])
    listing.write_text("".join(f"{tokens[i % len(tokens)]}\t{card}\n" for i, card in enumerate(cards)))
    waits: dict[str, int] = {}
    done = threading.Event()
    sampler = threading.Thread(target=_sample_waits, args=(waits, done))
    sampler.start()
    try:
        out = subprocess.run(
            [
                wrk,
                "-t",
                str(len(tokens)),
                "-c",
                str(len(tokens)),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(PROJECT / "bench/checkout_load.lua"),
                f"http://127.0.0.1:{port}",
                "--",
                str(listing),
                str(len(tokens)),
                uuid.uuid4().hex[:12],  # this run's part of every Idempotency-Key
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        done.set()
        sampler.join()
        listing.unlink(missing_ok=True)
    statuses = {int(code): int(n) for code, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
    lat = re.search(r"latency_us p50 (\d+) p95 (\d+) p99 (\d+) max (\d+)", out)
    duration = int(re.search(r"duration_us (\d+)", out).group(1)) / 1e6
    return {
        "statuses": statuses,
        "wall_s": duration,
        "ok": statuses.get(201, 0),
        "p50_ms": int(lat.group(1)) / 1000,
        "p95_ms": int(lat.group(2)) / 1000,
        "p99_ms": int(lat.group(3)) / 1000,
        "waits": waits,
    }


def print_waits(waits: dict[str, int]) -> None:
    states = {k: v for k, v in waits.items() if not k.startswith("  ")}
    total = sum(states.values()) or 1
    shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(states.items(), key=lambda kv: -kv[1]))
    print(f"busy PostgreSQL backends sampled every 20 ms: {shares}")
    for k, v in sorted(waits.items(), key=lambda kv: -kv[1]):
        if k.startswith("  ") and v / total >= 0.02:
            print(f"{k!s:<60} {v / total:.0%}")


def _sample_waits(waits: dict[str, int], done: threading.Event) -> None:
    """Every 20 ms, what each busy backend of the bench database is doing: running on CPU,
    waiting for a row lock held by another checkout, or waiting for I/O or the client. Shows
    whether checkouts queue behind each other (hot rows) or behind the CPU."""
    import psycopg

    with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
        while not done.is_set():
            rows = conn.execute(
                "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, ''), left(query, 48)"
                " FROM pg_stat_activity WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()",
                [DB_NAME],
            ).fetchall()
            for kind, event, query in rows:
                label = kind if kind in {"CPU", "IO"} else f"{kind}:{event}"
                waits[label] = waits.get(label, 0) + 1
                if kind == "Lock":
                    # Which statement waits tells which shared row is the queue.
                    waits[f"  waiting in: {query}"] = waits.get(f"  waiting in: {query}", 0) + 1
            time.sleep(0.02)


# -- 3. frame to screen ------------------------------------------------------------------------


def print_python_client(api: dict, server: str, terminals: int, cpu_used: float) -> None:
    print(f"\n## 2b. Checkout API, the terminals' own Python client ({server}, {terminals} threads here)")
    print(line("POST /checkouts/ latency", api["latencies"]))
    print(
        f"throughput {api['ok'] / api['wall_s']:.0f} checkouts/s ({api['ok']} in {api['wall_s']:.1f} s); "
        f"statuses {api['statuses']}"
    )
    print_waits(api["waits"])
    per = cpu_used / max(1, api["ok"]) * 1000
    print(f"server CPU per checkout {per:.2f} ms (the client's own CPU, on the same 2 cores, is not counted)")


def bench_e2e(port: int, token: str, faced: dict, rounds: int, manager, liveness: bool = False) -> dict:
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    from canteen.consumption import services
    from canteen.consumption.models import MealRecord
    from canteen.consumption.terminal.agent import TerminalAgent
    from canteen.consumption.terminal.client import ServerClient
    from canteen.consumption.terminal.kiosk import KioskServer, KioskState
    from canteen.consumption.terminal.store import Store
    from canteen.identity.engine import FaceEngine
    from canteen.identity.tests import faces

    portraits = faces.portraits()
    frames = [
        (name, faces.window_frame(faces.AUGMENTATIONS["brighter"](portraits[name]), face_width=130, seed=i))
        for i, name in enumerate(faced)
    ]
    approaches: dict[str, list] = {}
    check = None
    if liveness:
        # The campus requires a live face: each round is one approach of 8 frames with a
        # (synthetic) blink; the frame on which the check passes is the one that is charged, and
        # its frame → screen time is what "served" measures, the check's own work included.
        from canteen.identity.liveness import LivenessCheck
        from canteen.identity.liveness_samples import sequences

        services.campus_policy_set(campus=manager.campus, actor=manager, face_liveness="required")
        check = LivenessCheck.default()
        for seq in sequences(trials=1, seed=11):
            if seq.kind == "live" and seq.person in faced:
                approaches[seq.person] = seq.frames
        frames = [(name, None) for name in approaches]
    workdir = Path(tempfile.mkdtemp(prefix="bench-terminal-"))
    state = KioskState()
    kiosk = KioskServer(state, port=0)
    kiosk.start()
    agent = TerminalAgent(
        client=ServerClient(f"http://127.0.0.1:{port}", token, timeout=10),
        store=Store(workdir / "terminal.sqlite3"),
        kiosk=state,
        token=token,
        engine=FaceEngine.default(),
        cooldown=0,
        liveness=check,
    )
    agent.start()
    if liveness:
        agent.refresh()
    # Voiding is set-up between rounds (so the student may be served again), not measured.
    from canteen.org.models import User

    operator = User.objects.create(username="bench-operator", role="window_operator", campus=manager.campus)
    outcomes: dict[str, int] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=settings.CHROMIUM_PATH, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(kiosk.url)
        page.wait_for_function("document.body.dataset.kind !== undefined")
        time.sleep(0.5)
        for r in range(rounds):
            name, frame = frames[r % len(frames)]
            before = len(state.stages)
            if liveness:
                agent._approach.reset()
                shown = None
                for step in approaches[name]:
                    shown = agent.handle_frame(time.time(), step)
                    if shown == "served":
                        break
                    time.sleep(0.06)  # about 15 frames per second
                before = len(state.stages) - 1
            else:
                shown = agent.handle_frame(time.time(), frame)
            outcomes[shown or "none"] = outcomes.get(shown or "none", 0) + 1
            deadline = time.monotonic() + 5
            while len(state.stages) < before + 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            if shown == "served":
                record = MealRecord.objects.filter(student=faced[name], status="served").first()
                if record:
                    services.meal_record_void(record=record, actor=operator, reason="bench: serve again")
            time.sleep(0.15)
        browser.close()
    kiosk.stop()
    report = agent.report()
    agent.stop()
    return {**report, "outcomes": outcomes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="fewer students, frames and rounds (about a minute)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--port", type=int, default=8931)
    parser.add_argument("--terminals", type=int, default=8, help="concurrent terminals posting checkouts")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread, sync)")
    parser.add_argument("--seconds", type=int, help="length of the wrk run (10 s; 2 s with --small)")
    parser.add_argument("--api-only", action="store_true", help="only part 2, the checkout API")
    parser.add_argument("--e2e-only", action="store_true", help="only part 3, frame to screen")
    parser.add_argument(
        "--server-cpus",
        default="",
        help="pin gunicorn, the worker and PostgreSQL to these CPUs (e.g. 0) and wrk to the others, "
        "to see how throughput follows the cores the server gets",
    )
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip the web process's instruction count (callgrind)"
    )
    parser.add_argument(
        "--liveness",
        action="store_true",
        help="part 3 with the campus requiring liveness: each round an approach with a synthetic blink",
    )
    parser.add_argument("--count-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_child:
        count_child(*args.count_child)
        return
    warmup = 200 if args.small else 800
    args.seconds = args.seconds or (2 if args.small else 10)
    # One student per checkout. The terminals do not run at one rate (the quickest has run at
    # about twice the mean), and one that runs out of students is answered 409 from then on.
    wrk_cards = 1000 * args.seconds
    python_cards = 300 if args.small else 1000
    counted_cards = 0 if args.no_instructions else 2 * (COUNT_WARMUP + COUNTED)
    if args.e2e_only:
        wrk_cards = python_cards = counted_cards = 0
    students = warmup + wrk_cards + python_cards + counted_cards + 8
    frames_per_person = 5 if args.small else 15
    rounds = 24 if args.small else 80

    env = configure_environment()
    print(f"# bench/checkout.py {'--small ' if args.small else ''}— {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"# load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"# migrated {DB_NAME} in {time.perf_counter() - t0:.1f} s")

    if not args.api_only and not args.e2e_only:
        ident = bench_identify(frames_per_person)
        print(f"\n## 1. Identify, per frame (640×480, gallery of {ident['gallery']} rows)")
        print(line("full scan, every face embedded (reference)", ident["full_ms"]))
        print(line("window scan (≥100 px) + landmarks + embedding", ident["embed_ms"]))
        print(line("match (G @ q, top-2 margin)", ident["match_ms"]))
        print(line("identify total", ident["total_ms"]))
        print(f"correct accepts {ident['correct_accepts']}/{ident['frames']}; decisions {ident['decisions']}")

    t0 = time.perf_counter()
    data = seed(students, args.terminals)
    print(f"\n# seeded {students} students, {args.terminals} terminals in {time.perf_counter() - t0:.1f} s")
    gunicorn = start_gunicorn(env, args.port, args.workers, args.threads, args.worker_class)
    # The worker, as `canteen up` runs it: its jobs (the rollup fold every 2 s above all) are part
    # of what a checkout costs, so its CPU is counted with the server's.
    worker = start_worker(env)
    cards = data["qr_cards"]
    warm, by_wrk = cards[:warmup], cards[warmup : warmup + wrk_cards]
    by_python = cards[warmup + wrk_cards : warmup + wrk_cards + python_cards]
    by_count = cards[warmup + wrk_cards + python_cards :][:counted_cards]
    server = f"gunicorn {args.workers}×{args.threads} {args.worker_class}"
    if args.server_cpus:
        pin_server(args.server_cpus, [gunicorn.pid, *_children(gunicorn.pid), worker.pid])
        server += f", server pinned to CPU {args.server_cpus}"
    try:
        # Every worker process loads its caches (terminals, menus, accounts) before the clock.
        bench_api_wrk(args.port, data["tokens"], warm, 2)
        gather_statistics()
        cpu_before = _server_cpu(gunicorn.pid, worker.pid)
        load = bench_api_wrk(args.port, data["tokens"], by_wrk, args.seconds) if by_wrk else None
        web_s, worker_s, db_s = _cpu_since(cpu_before, gunicorn.pid, worker.pid)
        if load:
            print(f"\n## 2. Checkout API on PostgreSQL ({server}, {args.terminals} terminals driven by wrk)")
            print(
                f"POST /checkouts/ latency (wrk)                 median={load['p50_ms']:7.1f} ms"
                f"  p95={load['p95_ms']:7.1f} ms  p99={load['p99_ms']:7.1f} ms"
            )
            print(
                f"throughput {load['ok'] / load['wall_s']:.0f} checkouts/s ({load['ok']} in {load['wall_s']:.1f} s); "
                f"statuses {load['statuses']}"
            )
            print_waits(load["waits"])
            per_web, per_worker, per_db = (x / max(1, load["ok"]) * 1000 for x in (web_s, worker_s, db_s))
            per = per_web + per_worker + per_db
            print(
                f"server CPU per checkout {per:.2f} ms: gunicorn workers {per_web:.2f} ms, the worker "
                f"{per_worker:.2f} ms, their PostgreSQL backends {per_db:.2f} ms → at most {2000 / per:.0f} "
                "checkouts/s on 2 idle cores"
            )
            cpu_before = _server_cpu(gunicorn.pid, worker.pid)
            floor = bench_floor_wrk(args.port, args.terminals)
            f_web, f_worker, f_db = _cpu_since(cpu_before, gunicorn.pid, worker.pid)
            n = max(1, floor["requests"])
            print(
                f"reference, GET /healthz (Django + one SELECT 1), same server and connections: {floor['rate']:,.0f} "
                f"requests/s, {f_web / n * 1000:.2f} ms (gunicorn) + {f_db / n * 1000:.2f} ms (PostgreSQL) CPU each: "
                "the floor under any call"
            )
        elif by_wrk:
            print("\n## 2. wrk not installed (apt-get install wrk): the wrk figures are skipped")
        cpu_before = _server_cpu(gunicorn.pid, worker.pid)
        api = bench_api(args.port, data["tokens"], by_python) if by_python else None
        if api:
            print_python_client(api, server, args.terminals, sum(_cpu_since(cpu_before, gunicorn.pid, worker.pid)))
        if by_count:
            counted = bench_instructions(data["tokens"][0], by_count)
            if counted:
                print(
                    f"web process instructions per checkout (callgrind, {COUNTED} each, PostgreSQL not counted): "
                    f"{counted['lane'] / 1e6:.2f} M with the express lane, {counted['whole'] / 1e6:.2f} M through "
                    f"Django's whole chain (reference): {100 * (1 - counted['lane'] / counted['whole']):.0f} % fewer"
                )
            else:
                print("web process instructions: valgrind not installed (apt-get install valgrind), skipped")

        if not args.api_only:
            e2e = bench_e2e(
                args.port, data["tokens"][0], data["faced"], rounds, data["manager"], liveness=args.liveness
            )
            print(
                "\n## 3. Frame to screen (real terminal agent, kiosk page in headless Chromium)"
                + (", liveness required (multi-frame check, synthetic blinks)" if args.liveness else "")
            )
            print(line("identify (terminal)", e2e["identify_ms"]))
            print(line("checkout call (terminal → server)", e2e["checkout_ms"]))
            for kind, label in (("identified", "frame → name on screen"), ("served", "frame → charged on screen")):
                values = e2e["frame_to_screen_ms"].get(kind, [])
                if values:
                    print(line(label, values))
            for kind, parts in e2e["stages_ms"].items():
                print(line(f"  {kind}: frame → show() (agent)", parts["agent"]))
                print(line(f"  {kind}: show() → painted (page)", parts["page"]))
            print(f"outcomes {e2e['outcomes']}")
    finally:
        if args.server_cpus:
            unpin_server([gunicorn.pid, *_children(gunicorn.pid), worker.pid])
        worker.terminate()
        worker.wait(20)
        gunicorn.terminate()
        gunicorn.wait(20)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database()
    print(f"\n# load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
