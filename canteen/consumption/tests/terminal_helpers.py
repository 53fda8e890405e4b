"""Running the real terminal process against a live server, with real faces."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

from PIL import Image

from canteen.org.models import Guardian, GuardianLink, SchoolClass, Student

PROJECT = Path(__file__).resolve().parents[3]


def add_students(campus, count: int, *, start: int = 900) -> list[Student]:
    klass = SchoolClass.objects.filter(campus=campus).first()
    made = []
    for i in range(start, start + count):
        student = Student.objects.create(
            campus=campus,
            school_class=klass,
            student_number=f"F{i:05d}",
            name=f"刷脸{i}",
            gender="m",
            birth_date=date(2015, 5, 1),
        )
        guardian = Guardian.objects.create(name=f"家长F{i}", phone=f"137{i:08d}")
        GuardianLink.objects.create(guardian=guardian, student=student, relation="father", is_primary=True)
        made.append(student)
    return made


def enrol_people(students, names: list[str]) -> dict[str, Student]:
    """Enrol each student with the portrait of one real person; returns name → student."""
    from canteen.identity.tests import faces

    from .conftest import enrol_face

    portraits = faces.portraits()
    people = {}
    for student, name in zip(students, names, strict=True):
        enrol_face(student, faces.jpeg_bytes(portraits[name]))
        people[name] = student
    return people


def write_frames(folder: Path, names: list[str], *, seed: int = 1) -> Path:
    """One 640×480 window-camera frame per person (an augmented view, not the enrolment photo)."""
    from canteen.identity.tests import faces

    folder.mkdir(parents=True, exist_ok=True)
    portraits = faces.portraits()
    for i, name in enumerate(names):
        frame = faces.window_frame(faces.AUGMENTATIONS["brighter"](portraits[name]), face_width=130, seed=seed + i)
        Image.fromarray(frame).save(folder / f"{i:03d}-{name}.jpg", quality=92)
    return folder


def terminal_cmd(server: str, token: str, data_dir: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        str(PROJECT / "manage.py"),
        "terminal",
        "--server",
        server,
        "--token",
        token,
        "--data-dir",
        str(data_dir),
        "--timeout",
        "5",
        *args,
    ]


def run_terminal(server: str, token: str, data_dir: Path, *args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        terminal_cmd(server, token, data_dir, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def start_terminal(server: str, token: str, data_dir: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        terminal_cmd(server, token, data_dir, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def queue_states(data_dir: Path) -> dict[str, int]:
    db = sqlite3.connect(str(data_dir / "terminal.sqlite3"))
    try:
        return dict(db.execute("SELECT state, COUNT(*) FROM checkouts GROUP BY state").fetchall())
    finally:
        db.close()
