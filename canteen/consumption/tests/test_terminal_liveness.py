"""A photo cannot buy lunch: with the campus's liveness policy on, the terminal charges a
recognized face only when the camera module says it is live, or when the face blinked across
the frames of its approach. A printed photo or a phone screen moved by hand is refused."""

from __future__ import annotations

import time

import numpy as np
import pytest

from canteen.consumption.models import MealRecord
from canteen.consumption.terminal.agent import TerminalAgent
from canteen.consumption.terminal.client import ServerClient
from canteen.consumption.terminal.kiosk import KioskState
from canteen.consumption.terminal.store import Store

from .conftest import fund
from .terminal_helpers import add_students, enrol_people

pytestmark = pytest.mark.django_db(transaction=True)


def _sequences(person: str):
    from canteen.identity.liveness_samples import sequences

    return [s for s in sequences(trials=1, seed=11) if s.person == person]


@pytest.fixture
def window(world, canteen, registered_terminal, live_server, tmp_path):
    from canteen.consumption.services import campus_policy_set
    from canteen.identity.engine import FaceEngine
    from canteen.identity.liveness import LivenessCheck
    from canteen.org.models import User

    _terminal, token = registered_terminal
    [pupil] = add_students(canteen.campus, 1)
    enrol_people([pupil], ["tom"])
    fund(pupil, "30.00")
    manager = User.objects.get(role="canteen_manager", campus=canteen.campus)
    campus_policy_set(campus=canteen.campus, actor=manager, face_liveness="required")
    agent = TerminalAgent(
        client=ServerClient(live_server.url, token, timeout=5),
        store=Store(tmp_path / "t.sqlite3"),
        kiosk=KioskState(),
        token=token,
        engine=FaceEngine.default(),
        liveness=LivenessCheck.default(),
        cooldown=30,
    )
    agent.start()
    assert agent.refresh()
    assert agent.config.face_liveness == "required"
    return agent, pupil


def _approach(agent, frames, *, start: float, camera_live=None) -> list[str]:
    """One face's approach at about 8 frames a second; `start` seconds before now (the
    server checks the terminal's clock)."""
    agent._approach.reset()  # the previous face has left
    start = time.time() - 120 + start
    shown = []
    for i, frame in enumerate(frames):
        result = agent.handle_frame(start + i / 8, np.ascontiguousarray(frame), camera_live=camera_live)
        if result:
            shown.append(result)
    return shown


def test_photos_and_screens_moved_by_hand_are_refused_and_a_blink_is_served(window):
    agent, pupil = window
    seqs = _sequences("tom")
    attacks = [s for s in seqs if s.kind != "live"]
    assert {s.kind for s in attacks} == {"photo", "photo+glare", "screen"}
    for n, attack in enumerate(attacks):
        shown = _approach(agent, attack.frames, start=10.0 * n)
        assert "served" not in shown, attack.kind
        assert "liveness_wait" in shown, attack.kind  # the screen asked for a blink
    assert agent.kiosk.snapshot()["message"] == "请眨一眨眼睛，完成活体检测"
    assert not MealRecord.objects.exists()

    [live] = [s for s in seqs if s.kind == "live"]
    shown = _approach(agent, live.frames, start=50.0)
    assert shown[-1] == "served", shown
    record = MealRecord.objects.get()
    assert record.student_id == pupil.pk
    assert record.method == "face"


def test_the_camera_modules_own_signal_decides_when_it_gives_one(window):
    agent, pupil = window
    [photo] = [s for s in _sequences("tom") if s.kind == "photo"]
    # An IR/depth module says "not live": refused at once, whatever the frames look like.
    assert _approach(agent, photo.frames[:2], start=60.0, camera_live=False) == ["refused"]
    assert "活体检测未通过" in agent.kiosk.snapshot()["message"]
    assert not MealRecord.objects.exists()
    # It says "live": served on the first recognized frame, no blink needed.
    agent._recent.clear()
    assert _approach(agent, photo.frames[:1], start=70.0, camera_live=True) == ["served"]
    assert MealRecord.objects.get().student_id == pupil.pk
