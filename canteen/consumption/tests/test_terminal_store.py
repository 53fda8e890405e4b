"""The terminal's durable queue on its own: what survives a restart and what is resent."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

from canteen.consumption.terminal.store import Store


def add(store: Store, key: str, student: str = "s1", amount: int = 600) -> None:
    store.add(
        key=key,
        body={"method": "face", "student_id": student},
        student_id=student,
        amount_fen=amount,
        served_on="2026-11-23",
        session_kind="lunch",
    )


def test_a_row_in_flight_at_a_crash_is_resent_with_its_exact_body(tmp_path):
    store = Store(tmp_path / "q.sqlite3")
    add(store, "k1")
    store.close()  # the process died with k1 in flight
    reopened = Store(tmp_path / "q.sqlite3")
    assert reopened.recover() == 1
    [row] = reopened.to_sync()
    assert (row.key, row.state, row.body) == ("k1", "retry", {"method": "face", "student_id": "s1"})


def test_offline_limits_count_only_what_the_server_has_not_accepted(tmp_path):
    store = Store(tmp_path / "q.sqlite3")
    add(store, "a", "s1")
    add(store, "b", "s1")
    add(store, "c", "s2")
    for key in ("a", "b", "c"):
        store.set_state(key, "offline")
    assert store.offline_spent() == 1800
    assert store.offline_spent(student_id="s1", served_on="2026-11-23") == 1200
    store.set_state("a", "done", response={"ok": True}, synced=True)
    assert store.offline_spent(student_id="s1", served_on="2026-11-23") == 600
    assert store.served_locally(student_id="s1", served_on="2026-11-23", session_kind="lunch")
    assert not store.served_locally(student_id="s3", served_on="2026-11-23", session_kind="lunch")
    assert store.counts() == {"done": 1, "offline": 2}


def _write_then_die(path: str) -> None:
    store = Store(Path(path))
    add(store, "committed")
    store.set_state("committed", "offline")
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit: only what fsync wrote survives


def test_a_committed_row_survives_sigkill_of_the_writer(tmp_path):
    path = str(tmp_path / "q.sqlite3")
    proc = multiprocessing.get_context("spawn").Process(target=_write_then_die, args=(path,))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    rows = Store(tmp_path / "q.sqlite3").all()
    assert [(r.key, r.state) for r in rows] == [("committed", "offline")]


def test_a_video_file_and_a_folder_are_read_as_rgb_frames(tmp_path):
    import cv2
    import numpy as np

    from canteen.consumption.terminal.frames import frames

    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(5):
        writer.write(
            np.dstack(
                [np.zeros((240, 320), np.uint8), np.zeros((240, 320), np.uint8), np.full((240, 320), 200, np.uint8)]
            )
        )
    writer.release()
    got = list(frames(str(clip)))
    assert len(got) == 5
    assert got[0][1].shape == (240, 320, 3)
    assert got[0][1][..., 0].mean() > 150  # OpenCV's BGR red comes out as RGB red
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((10, 10, 3), np.uint8))
    (folder / "notes.txt").write_text("not a frame")
    assert len(list(frames(str(folder), repeat=3))) == 3
