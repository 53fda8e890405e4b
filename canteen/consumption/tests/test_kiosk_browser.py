"""The kiosk screen in a real browser: a recognized frame at the window puts the student's name,
class, set meal, price, balance and allergy notes on the screen, with a sound."""

from __future__ import annotations

import base64
import re

import pytest

from canteen.consumption.models import MealRecord
from canteen.identity.services import terminal_package_key

from .conftest import fund
from .terminal_helpers import add_students, enrol_people, start_terminal, write_frames

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def read_kiosk_url(proc, timeout: float = 90) -> str:
    import select
    import time

    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            line = proc.stdout.readline()
            seen.append(line)
            match = re.match(r"kiosk (http://\S+)", line)
            if match:
                return match.group(1)
        if proc.poll() is not None:
            break
    raise AssertionError(f"no kiosk URL: {''.join(seen)} {proc.stderr.read() if proc.poll() is not None else ''}")


def test_a_recognized_student_appears_on_the_kiosk(world, canteen, registered_terminal, live_server, page, tmp_path):
    _terminal, token = registered_terminal
    [student] = add_students(canteen.campus, 1)
    student.allergens = ["peanut"]
    student.diet_notes = "不吃辣"
    student.save()
    enrol_people([student], ["tom"])
    fund(student, "30.00")
    # The camera sees an empty counter for a while, then the student steps up.
    frames = write_frames(tmp_path / "frames", ["tom"])
    proc = start_terminal(
        live_server.url,
        token,
        tmp_path / "terminal",
        "--source",
        str(frames),
        "--fps",
        "0.5",
        "--repeat",
        "3",
        "--once",
        "--linger",
        "20",
        "--kiosk-port",
        "0",
        # The window PC holds only its campus's gallery key, not the district's template key.
        env={
            "CANTEEN_TERMINAL_GALLERY_KEY": base64.b64encode(terminal_package_key(campus=canteen.campus)).decode(),
            "CANTEEN_FACE_KEY": base64.b64encode(b"w" * 32).decode(),
        },
    )
    try:
        url = read_kiosk_url(proc)
        page.goto(url)
        page.wait_for_selector("body[data-kind=served]", timeout=30_000)
        assert page.inner_text("[data-testid=kiosk-name]") == student.name
        assert page.inner_text("[data-testid=kiosk-class]") == f"{student.school_class.name} · {student.student_number}"
        assert page.inner_text("[data-testid=kiosk-meal]") == "标准套餐A"
        assert page.inner_text("[data-testid=kiosk-price]") == f"¥{canteen.price_fen / 100:.2f}"
        assert page.inner_text("[data-testid=kiosk-balance]") == f"¥{(3000 - canteen.price_fen) / 100:.2f}"
        allergy = page.inner_text("[data-testid=kiosk-allergy]")
        assert "花生" in allergy
        assert "不吃辣" in allergy
        assert "取餐成功" in page.inner_text("[data-testid=kiosk-status]")
        # The success sound was played through WebAudio (the page counts its beeps), right
        # after the result was painted.
        page.wait_for_function("Number(document.body.dataset.beep || 0) >= 1", timeout=5_000)
        record = MealRecord.objects.get()
        assert record.student_id == student.pk
        assert record.method == "face"
    finally:
        proc.terminate()
        proc.wait(20)
