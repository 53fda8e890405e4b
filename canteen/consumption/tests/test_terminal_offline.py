"""The window terminal as a real process: it serves offline from its cached gallery, and a sync
killed with SIGKILL half-way, then restarted, loses nothing and charges nothing twice."""

from __future__ import annotations

import signal
import time

import pytest

from canteen.consumption.models import MealRecord
from canteen.ledger.models import Posting

from .conftest import balance, fund
from .terminal_helpers import add_students, enrol_people, queue_states, run_terminal, start_terminal, write_frames

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = ["group1", "group2", "group3", "group4", "group5", "tom"]
UNREACHABLE = "http://127.0.0.1:9"  # discard port: connection refused at once


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_offline_meals_sync_exactly_once_across_sigkills(world, canteen, registered_terminal, live_server, tmp_path):
    _terminal, token = registered_terminal
    students = add_students(canteen.campus, len(PEOPLE))
    people = enrol_people(students, PEOPLE)
    for student in students:
        fund(student, "30.00")
    data_dir = tmp_path / "terminal"

    # Provisioning, online: config, roster and the encrypted gallery land on the terminal's disk.
    out = run_terminal(live_server.url, token, data_dir, "--sync-only")
    assert "sync complete" in out

    # The network is down: six students are recognized and served from the cached gallery.
    frames = write_frames(tmp_path / "frames", PEOPLE)
    out = run_terminal(UNREACHABLE, token, data_dir, "--source", str(frames), "--once", "--no-kiosk")
    assert out.count("frame: offline_served") == len(PEOPLE), out
    assert queue_states(data_dir) == {"offline": len(PEOPLE)}
    assert not MealRecord.objects.exists()

    # Back online, the sync is killed twice part-way (SIGKILL: no clean-up of any kind).
    for served_before_kill in (2, 4):
        proc = start_terminal(live_server.url, token, data_dir, "--sync-only", "--sync-pause", "0.4")
        try:
            assert wait_for(lambda n=served_before_kill: MealRecord.objects.count() >= n), proc.stderr
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL

    # Restarted: everything arrives, once.
    out = run_terminal(live_server.url, token, data_dir, "--sync-only")
    assert "sync complete" in out
    assert queue_states(data_dir) == {"done": len(PEOPLE)}
    records = MealRecord.objects.all()
    assert sorted(r.student_id for r in records) == sorted(s.pk for s in people.values())
    assert all(r.served_offline and r.method == "face" and r.match_distance is not None for r in records)
    assert Posting.objects.filter(kind="meal_charge").count() == len(PEOPLE)
    for student in students:
        assert balance(student) == 3000 - canteen.price_fen


def test_offline_limits_refuse_a_second_meal_and_an_unknown_face(
    world, canteen, registered_terminal, live_server, tmp_path
):
    _terminal, token = registered_terminal
    students = add_students(canteen.campus, 1)
    enrol_people(students, ["group1"])
    fund(students[0], "30.00")
    data_dir = tmp_path / "terminal"
    run_terminal(live_server.url, token, data_dir, "--sync-only")
    # The same student comes back (after the cooldown), and a stranger (not enrolled) tries. The
    # stranger stands at the window: in these frames the astronaut's face is ~70 px, someone far
    # back in the queue, whom the terminal does not look for (faces of 100 px or more).
    frames = write_frames(tmp_path / "frames", ["group1", "group4", "group1"])
    out = run_terminal(UNREACHABLE, token, data_dir, "--source", str(frames), "--once", "--no-kiosk", "--cooldown", "0")
    assert out.splitlines().count("frame: offline_served") == 1, out
    assert "frame: unknown" in out
    assert "frame: refused" in out
    assert queue_states(data_dir) == {"offline": 1, "abandoned": 1}
    run_terminal(live_server.url, token, data_dir, "--sync-only")
    assert MealRecord.objects.count() == 1
    assert queue_states(data_dir) == {"done": 2}
    assert balance(students[0]) == 3000 - canteen.price_fen
