"""`canteen up` stopped as systemd or a container runtime stops it (SIGTERM): web server, worker,
stream supervisor, analyser and the ffmpeg processes all stop before `up` exits; none is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from canteen.core import processes

PROJECT = Path(__file__).resolve().parents[3]
PORT = 22611  # this port range

PREPARE = """
import django
django.setup()
from canteen.kitchen import services
from canteen.kitchen.choices import Area
from canteen.org.tests.factories import make_world
world = make_world(students_per_campus=1)
services.camera_create(actor=world.user("canteen_manager"), canteen=world.canteens[0], name="cook",
                       area=Area.COOKING, stream_url="udp://127.0.0.1:22612")
"""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def _web_answers() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_sigterm_to_up_leaves_no_process_it_started(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "canteen.settings.local",
        "CANTEEN_DATABASE_URL": f"sqlite:///{tmp_path / 'up.sqlite3'}",
        "CANTEEN_DATA_DIR": str(tmp_path / "var"),
        "CANTEEN_KITCHEN_DIR": str(tmp_path / "kitchen"),
        "CANTEEN_BIND": f"127.0.0.1:{PORT}",
        "CANTEEN_WEB_WORKERS": "1",
        "CANTEEN_STOP_TIMEOUT": "20",
    }
    python = sys.executable
    subprocess.run([python, "-m", "canteen.cli", "migrate", "-v0"], cwd=PROJECT, env=env, check=True, timeout=400)
    subprocess.run([python, "-c", PREPARE], cwd=PROJECT, env=env, check=True, timeout=120)

    up = subprocess.Popen([python, "-m", "canteen.cli", "up", "--no-seed"], cwd=PROJECT, env=env)
    try:
        _wait_for(_web_answers, 120, "the web server")

        def everything_started() -> set[int] | None:
            tree = processes.descendants([up.pid])
            lines = [_cmdline(pid) for pid in tree]
            ffmpegs = [line for line in lines if line.startswith("ffmpeg")]
            has = {name: any(f"canteen.cli {name}" in line for line in lines) for name in ("worker", "streams")}
            # two ffmpeg: the simulated camera and its relay
            return tree if len(ffmpegs) >= 2 and all(has.values()) else None

        tree = _wait_for(everything_started, 120, "worker, streams and two ffmpeg processes")
        # gunicorn's master and worker, the worker, streams (with analyser) and the ffmpeg processes
        assert len(tree) >= 6, [_cmdline(pid) for pid in tree]

        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
        left = {pid: _cmdline(pid) for pid in tree if processes.alive(pid)}
        assert left == {}, f"still running after `canteen up` exited: {left}"
        assert not _web_answers()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
