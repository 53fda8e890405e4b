"""Frame sources for the terminal: a camera (OpenCV device index), a video file, or a folder of
images (tests and demos). Frames come out as RGB arrays with the wall-clock time of capture."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def frames(spec: str, *, fps: float | None = None, repeat: int = 1) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (captured_at, rgb). `fps` paces files and folders like a camera would; a camera
    paces itself. `repeat` shows each folder image that many times in a row (a student stands
    in front of the camera for several frames)."""
    import cv2

    path = Path(spec)
    interval = 1.0 / fps if fps else 0.0
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for file in files:
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if bgr is None:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            for _ in range(max(1, repeat)):
                started = time.time()
                yield started, rgb
                _pace(started, interval)
        return
    capture = cv2.VideoCapture(int(spec) if spec.isdigit() else str(path))
    if not capture.isOpened():
        raise OSError(f"cannot open frame source {spec!r}")
    try:
        while True:
            started = time.time()
            ok, bgr = capture.read()
            if not ok:
                return
            yield time.time(), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if not spec.isdigit():
                _pace(started, interval)
    finally:
        capture.release()


def _pace(started: float, interval: float) -> None:
    if interval:
        left = interval - (time.time() - started)
        if left > 0:
            time.sleep(left)
