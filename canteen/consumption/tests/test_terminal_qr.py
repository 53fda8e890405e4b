"""A student without face consent holds their QR card up to the same window camera."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from canteen.consumption.models import MealRecord

from .conftest import balance, fund
from .terminal_helpers import queue_states, run_terminal

pytestmark = pytest.mark.django_db(transaction=True)


def card_frame(token: str) -> Image.Image:
    """A 640×480 camera frame with the printed card (segno, as identity prints them) held up."""
    import segno

    buf = io.BytesIO()
    segno.make(token, error="m").save(buf, kind="png", scale=5, border=4)
    card = Image.open(buf).convert("RGB")
    rng = np.random.default_rng(3)
    frame = Image.fromarray(rng.integers(70, 130, size=(480, 640, 3), dtype=np.uint8))
    frame.paste(card, ((640 - card.width) // 2, (480 - card.height) // 2))
    return frame


def test_a_qr_card_at_the_camera_checks_the_student_out_once(
    world, canteen, registered_terminal, live_server, tmp_path
):
    from canteen.identity import services as identity_services

    _terminal, token = registered_terminal
    student = world.students[0]
    fund(student, "20.00")
    card = identity_services.qr_credential_issue(student=student, actor=world.user("canteen_manager"))
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):  # the card stays in view for three frames: one checkout
        card_frame(card).save(frames / f"{i}.png")
    data_dir = tmp_path / "terminal"
    out = run_terminal(live_server.url, token, data_dir, "--source", str(frames), "--once", "--no-kiosk")
    assert out.count("frame: served") == 1, out
    record = MealRecord.objects.get()
    assert record.student_id == student.pk
    assert record.method == "qr"
    assert balance(student) == 2000 - canteen.price_fen
    assert queue_states(data_dir) == {"done": 1}
