"""`canteen`: one entry point for every process and admin task.

canteen up [--no-seed]     migrate, seed the demo district if empty, start web (+ worker, streams);
                           SIGTERM/SIGINT stop everything it started before it exits;
                           CANTEEN_DEMO_SEED_ARGS="--schools 3 --campuses 5" seeds a smaller demo
canteen web [--bind ...]   the web process (gunicorn)
canteen demo seed [...]    generate the demo district (see `canteen demo seed --help`)
canteen worker|streams|terminal ...   background processes, as their domains provide them
canteen <manage command>   anything manage.py knows (migrate, createsuperuser, ...)
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Processes that `up` starts beside web when their domain provides the management command.
COMPANIONS = [("worker", []), ("streams", ["--demo"])]


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canteen.settings.local")
    import django

    django.setup()


def _manage(argv: list[str]) -> None:
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["canteen", *argv])


def _has_command(name: str) -> bool:
    from django.core.management import get_commands

    return name in get_commands()


def _web_argv(extra: list[str]) -> list[str]:
    bind = os.environ.get("CANTEEN_BIND", "127.0.0.1:8000")
    workers = os.environ.get("CANTEEN_WEB_WORKERS", "2")
    # Window terminals post a checkout every few seconds on one kept-alive connection. Gunicorn's
    # default of 2 s closed it between students: after a 3 s pause every request found its
    # connection closed and opened a new one (a TLS handshake too, behind HTTPS). An idle
    # connection costs a gthread worker no thread, only a socket.
    keep_alive = os.environ.get("CANTEEN_WEB_KEEPALIVE", "30")
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "canteen.wsgi:application",
        "--bind",
        bind,
        "--workers",
        workers,
        "--threads",
        "4",
        "--keep-alive",
        keep_alive,
        # A request running longer is killed with its process: the bound a window terminal relies
        # on before it takes a checkout it gave up for one that never arrived.
        "--timeout",
        os.environ.get("CANTEEN_WEB_TIMEOUT", "30"),
        "--access-logfile",
        "-",
        *extra,
    ]


def up(extra: list[str]) -> int:
    """Start web and its companions; SIGTERM or SIGINT stops them all before `up` exits."""
    from canteen.core import processes

    skip_seed = "--no-seed" in extra  # an already prepared database: start at once (tests, systemd)
    extra = [arg for arg in extra if arg != "--no-seed"]
    stopping: list[int] = []

    def on_signal(signum, _frame):
        stopping.append(signum)

    # Handlers before anything starts: a stop that arrives during the migration still stops cleanly.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    _django()
    from django.core.management import call_command

    from canteen.org.models import District

    print("→ 数据库迁移 Migrating the database…", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    if not skip_seed and not District.objects.exists():
        print("→ 生成演示数据 Seeding the demo district…", flush=True)
        # CANTEEN_DEMO_SEED_ARGS (e.g. "--schools 3 --campuses 5"): a smaller demo, for CI.
        call_command("demo_seed", *shlex.split(os.environ.get("CANTEEN_DEMO_SEED_ARGS", "")))
    children: list[subprocess.Popen] = []
    web: subprocess.Popen | None = None
    try:
        for name, args in COMPANIONS:
            if _has_command(name) and not stopping:
                print(f"→ 启动 {name}", flush=True)
                children.append(processes.start([sys.executable, "-m", "canteen.cli", name, *args], cwd=PROJECT_DIR))
        if not stopping:
            bind = os.environ.get("CANTEEN_BIND", "127.0.0.1:8000")
            print(f"→ 网页已启动 Web server on http://{bind}/  (Ctrl+C 停止 to stop)", flush=True)
            web = processes.start(_web_argv(extra), cwd=PROJECT_DIR)
        while not stopping and web is not None and web.poll() is None:
            time.sleep(0.2)
    finally:
        print("→ 停止中 Stopping every process…", flush=True)
        started = [p for p in [web, *children] if p is not None]
        killed = processes.stop_all(started, timeout=float(os.environ.get("CANTEEN_STOP_TIMEOUT", "30")))
        if killed:
            print(f"→ 强制结束 Killed after the wait: {killed}", flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopping or web is None:
        return 0
    return web.returncode or 0


def _metrics_dir() -> None:
    """One directory where web workers and the worker write their Prometheus counters (multi-process
    mode), emptied at start: counters begin at 0 with the processes that count them."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    path = Path(os.environ.get("CANTEEN_DATA_DIR", PROJECT_DIR / "var")) / "prometheus"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "terminal":
        # One BLAS thread: the 5,000-row gallery match is a single small product, and a thread pool
        # fighting the face model for two cores made it 80x slower under load.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    if command == "up":
        _metrics_dir()
        return up(rest)
    if command == "web":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canteen.settings.local")
        return subprocess.call(_web_argv(rest), cwd=PROJECT_DIR)
    if command == "demo":
        if not rest or rest[0] != "seed":
            print("usage: canteen demo seed [--districts N] [--students-per-campus N] [--seed N]")
            return 2
        _manage(["demo_seed", *rest[1:]])
        return 0
    _manage(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
