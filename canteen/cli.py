"""`canteen`: one entry point for every process and admin task.

canteen up                 migrate, seed the demo district if empty, start web (+ worker, streams);
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
    _django()
    from django.core.management import call_command

    from canteen.org.models import District

    print("→ 数据库迁移 Migrating the database…", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    if not District.objects.exists():
        print("→ 生成演示数据 Seeding the demo district…", flush=True)
        # CANTEEN_DEMO_SEED_ARGS (e.g. "--schools 3 --campuses 5"): a smaller demo, for CI.
        call_command("demo_seed", *shlex.split(os.environ.get("CANTEEN_DEMO_SEED_ARGS", "")))
    children = []
    for name, args in COMPANIONS:
        if _has_command(name):
            print(f"→ 启动 {name}", flush=True)
            children.append(subprocess.Popen([sys.executable, "-m", "canteen.cli", name, *args], cwd=PROJECT_DIR))
    bind = os.environ.get("CANTEEN_BIND", "127.0.0.1:8000")
    print(f"→ 网页已启动 Web server on http://{bind}/  (Ctrl+C 停止 to stop)", flush=True)
    web = subprocess.Popen(_web_argv(extra), cwd=PROJECT_DIR)
    try:
        return web.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in [web, *children]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [web, *children]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


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
