"""The window terminal against a real web server (gunicorn, two workers) that misbehaves: a
worker frozen with SIGSTOP while it holds a checkout, a token rotated before the sync, a database
connection dropped mid-request. The pupil is never charged for a meal the screen refused, no
served meal is written off, every failure answers JSON."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from canteen.consumption.models import MealRecord
from canteen.consumption.terminal.agent import TerminalAgent
from canteen.consumption.terminal.client import ServerClient
from canteen.consumption.terminal.kiosk import KioskState
from canteen.consumption.terminal.store import Store

from .conftest import balance, fund
from .test_checkout_api import _qr

pytestmark = pytest.mark.django_db(transaction=True)
# A gunicorn process sees the test database only on PostgreSQL: SQLite's test database is in
# the test process's memory.
GUNICORN_NEEDS_POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the server process shares the test database on PostgreSQL only"
)

PROJECT = Path(__file__).resolve().parents[3]
PORT = 22410  # this range (22400-22499)
WEB_TIMEOUT = 6  # gunicorn --timeout: a frozen worker is killed after this


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


@pytest.fixture
def web(django_db_setup, monkeypatch):
    """`canteen web` as production runs it (gunicorn, gthread, two workers, keep-alive), on the
    test database."""
    from canteen import cli

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "canteen.settings.test",
        "CANTEEN_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CANTEEN_BIND": f"127.0.0.1:{PORT}",
        "CANTEEN_WEB_WORKERS": "2",
        "CANTEEN_WEB_TIMEOUT": str(WEB_TIMEOUT),
    }
    for name in ("CANTEEN_BIND", "CANTEEN_WEB_WORKERS", "CANTEEN_WEB_TIMEOUT"):
        monkeypatch.setenv(name, env[name])
    argv = cli._web_argv([])
    argv = argv[: argv.index("--access-logfile")]
    if "--timeout" not in argv:  # `canteen web` before it passed CANTEEN_WEB_TIMEOUT on
        argv += ["--timeout", str(WEB_TIMEOUT)]
    assert argv[argv.index("--timeout") + 1] == str(WEB_TIMEOUT)
    proc = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_port(PORT, proc)
        yield f"http://127.0.0.1:{PORT}", proc
    finally:
        for pid in _workers(proc.pid):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _workers(master: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{master}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(pid) for pid in text]
    return children


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def worker_holding(master: int, client_port: int) -> int:
    """The gunicorn worker that holds the server side of the terminal's kept-alive connection."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == PORT and remote_port == client_port:
            inode = fields[9]
            for pid in _workers(master):
                if inode in _socket_inodes(pid):
                    return pid
    raise AssertionError("no worker holds the terminal's connection")


def make_agent(server: str, token: str, tmp_path: Path, *, timeout: float = 1.0) -> TerminalAgent:
    client = ServerClient(server, token, timeout=timeout)
    agent = TerminalAgent(
        client=client, store=Store(tmp_path / "terminal.sqlite3"), kiosk=KioskState(), token=token, cooldown=0
    )
    agent.start()
    # A fresh worker's first requests (imports, database connection) can outlast the sync's
    # 5 s on a loaded machine: the terminal retries provisioning, as its sync loop does.
    deadline = time.monotonic() + 120
    while not agent.refresh():
        assert time.monotonic() < deadline, "the terminal could not provision"
        time.sleep(1)
    return agent


@GUNICORN_NEEDS_POSTGRES
def test_a_checkout_held_up_in_a_frozen_worker_never_charges_the_pupil_the_screen_refused(
    world, canteen, registered_terminal, web, tmp_path
):
    """F1: the terminal gives up on a checkout held by a frozen worker and refuses the pupil (no
    offline allowance); its sync asks another worker, which has no record: "not found". The row
    stays open while the request may still run; the thawed worker refuses the stale request;
    only then does "not found" close the row. The pupil is not charged."""
    server, master = web
    terminal, token = registered_terminal
    terminal.offline_limit_fen = 0  # offline, nothing may be served: the pupil is refused
    terminal.save()
    pupil = world.students[0]
    fund(pupil, "20.00")
    agent = make_agent(server, token, tmp_path)
    frozen = worker_holding(master.pid, agent.client._conn().sock.getsockname()[1])
    os.kill(frozen, signal.SIGSTOP)
    try:
        started = time.monotonic()
        shown = agent.checkout(student_id="", frame_ts=time.time(), method="qr", qr_token=_qr(pupil))
        assert shown == "refused"
        assert time.monotonic() - started < 2.5
        assert agent.kiosk.snapshot()["kind"] == "refused"
        [row] = agent.store.all()
        assert row.state == "abandoned"
        # The sync asks the other worker at once: nothing there yet.
        agent._came_online()
        agent.sync_once()
        assert agent.store.get(row.key).state == "abandoned", "closed on a 'not found' while still in flight"
    finally:
        os.kill(frozen, signal.SIGCONT)
    # The thawed worker now runs the request it held: too late, refused, nothing charged.
    time.sleep(2.0)
    assert not MealRecord.objects.exists()
    assert balance(pupil) == 2000
    # Past the server's request deadline (it told the terminal) a "not found" is final.
    assert agent.config.request_deadline_s == WEB_TIMEOUT
    deadline = row.created_at + agent.client.timeout + WEB_TIMEOUT + 1.5
    while time.time() < deadline:
        time.sleep(0.25)
    agent.sync_once()
    assert agent.store.get(row.key).state == "done"
    assert agent.store.get(row.key).last_error == "nothing_to_void"
    assert not MealRecord.objects.exists()
    assert balance(pupil) == 2000


@GUNICORN_NEEDS_POSTGRES
def test_the_checkout_waits_its_own_timeout_after_a_long_download(world, canteen, registered_terminal, web, tmp_path):
    """F2: the gallery and roster downloads wait up to 30 s; the checkout on the same kept-alive
    connection still gives up after its own timeout (1 s here) and serves offline."""
    server, master = web
    _terminal, token = registered_terminal
    pupil = world.students[0]
    fund(pupil, "20.00")
    agent = make_agent(server, token, tmp_path)
    assert agent.client.roster().ok  # a download on the kept-alive connection: 30 s timeout
    frozen = worker_holding(master.pid, agent.client._conn().sock.getsockname()[1])
    os.kill(frozen, signal.SIGSTOP)
    try:
        started = time.monotonic()
        shown = agent.checkout(student_id="", frame_ts=time.time(), method="qr", qr_token=_qr(pupil))
        waited = time.monotonic() - started
    finally:
        os.kill(frozen, signal.SIGCONT)
    assert shown == "offline_served"
    assert waited < 2.0, f"the pupil waited {waited:.1f} s"
    # The thawed worker refuses the expired request; the offline meal syncs once.
    time.sleep(1.5)
    assert not MealRecord.objects.exists()
    agent._came_online()
    agent.sync_once()
    record = MealRecord.objects.get()
    assert record.served_offline
    assert record.student_id == pupil.pk
    assert balance(pupil) == 2000 - canteen.price_fen


def test_a_refused_token_pauses_the_sync_and_keeps_every_served_meal(
    world, canteen, registered_terminal, live_server, tmp_path
):
    """F3: meals served offline, then the token is rotated before the sync: the sync pauses,
    keeps the rows, says so on the kiosk and in its exit status; with the new token every meal
    arrives once."""
    from canteen.consumption.services import terminal_rotate_token
    from canteen.org.models import User

    terminal, token = registered_terminal
    pupils = world.students[:3]
    for pupil in pupils:
        fund(pupil, "20.00")
    data_dir = tmp_path / "t"
    agent = make_agent(live_server.url, token, data_dir)
    agent.client.port = 9  # the network goes down: discard port, refused at once
    agent.client._drop()
    for pupil in pupils:
        assert agent.checkout(student_id="", frame_ts=time.time(), method="qr", qr_token=_qr(pupil)) == (
            "offline_served"
        )
    manager = User.objects.get(role="canteen_manager", campus=canteen.campus)
    new_token = terminal_rotate_token(terminal=terminal, actor=manager)

    agent.client.port = int(live_server.url.rsplit(":", 1)[1])
    agent.client._drop()
    agent._came_online()
    assert agent.drain(timeout=10) is False
    assert agent.auth_failed == "authentication_failed"
    assert agent.store.counts() == {"offline": 3}, "served meals were written off"
    assert "认证失败" in agent.kiosk.snapshot()["notice"]
    assert not MealRecord.objects.exists()

    # The command says so too: not "complete", and not exit status 0.
    from .terminal_helpers import terminal_cmd

    proc = subprocess.run(
        terminal_cmd(live_server.url, token, data_dir, "--sync-only"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr[-2000:]
    assert "sync paused" in proc.stdout
    assert "complete" not in proc.stdout

    # A valid token arrives: the sync resumes and every meal is recorded once.
    agent.client.token = new_token
    assert agent.drain(timeout=30) is True
    assert agent.auth_failed == ""
    assert agent.kiosk.snapshot()["notice"] == ""
    assert MealRecord.objects.filter(served_offline=True).count() == 3
    for pupil in pupils:
        assert balance(pupil) == 2000 - canteen.price_fen
