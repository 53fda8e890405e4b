"""`canteen web` as a window terminal meets it: the terminal's kept-alive connection outlasts the
pause between two students, so a checkout does not begin by finding its connection closed."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from canteen import cli
from canteen.consumption.terminal.client import Offline, ServerClient

PROJECT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_terminal_connection_survives_the_pause_between_students(tmp_path, monkeypatch):
    port = _free_port()
    monkeypatch.setenv("CANTEEN_BIND", f"127.0.0.1:{port}")
    monkeypatch.setenv("CANTEEN_WEB_WORKERS", "1")
    argv = cli._web_argv([])
    assert argv[argv.index("--keep-alive") + 1] == "30"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "canteen.settings.local",
        "CANTEEN_DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
    }
    server = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = ServerClient(f"http://127.0.0.1:{port}", "terminal-token", timeout=5)
        deadline = time.monotonic() + 30
        while True:
            try:
                assert client.request("GET", "/healthz").status == 200
                break
            except Offline:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        first = client._conn().sock
        time.sleep(3)  # longer than gunicorn's default keep-alive of 2 s
        assert client.request("GET", "/healthz").status == 200
        assert client._conn().sock is first, "the connection was closed during the pause and opened again"
    finally:
        server.terminate()
        server.wait(20)


def _gc_of_a_web_process(setting: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "canteen.settings.local"}
    env.pop("CANTEEN_WEB_GC", None)
    if setting is not None:
        env["CANTEEN_WEB_GC"] = setting
    probe = "import gc, canteen.wsgi; print(*gc.get_threshold(), gc.get_freeze_count() > 0)"
    return subprocess.run(
        [str(PROJECT / ".venv/bin/python"), "-c", probe], cwd=PROJECT, env=env, capture_output=True, text=True
    )


def test_the_web_process_freezes_what_it_loaded_and_collects_less_often():
    tuned = _gc_of_a_web_process(None)
    assert tuned.stdout.split() == ["20000", "20", "20", "True"], tuned.stderr
    python_default = _gc_of_a_web_process("off")
    assert python_default.stdout.split() == ["700", "10", "10", "False"], python_default.stderr
    refused = _gc_of_a_web_process("lots")
    assert refused.returncode != 0
    assert "CANTEEN_WEB_GC must be three positive integers" in refused.stderr
