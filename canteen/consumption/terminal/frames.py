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
    if spec.isdigit():
        yield from _latest_frames(int(spec))
        return
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f"cannot open frame source {spec!r}")
    try:
        while True:
            started = time.time()
            ok, bgr = capture.read()
            if not ok:
                return
            yield time.time(), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            _pace(started, interval)
    finally:
        capture.release()


def _pace(started: float, interval: float) -> None:
    if interval:
        left = interval - (time.time() - started)
        if left > 0:
            time.sleep(left)


def _latest_frames(index: int) -> Iterator[tuple[float, np.ndarray]]:
    """A camera delivers frames faster than they are identified (30 fps against ~8 per second);
    reading them in turn would hand over ever older frames from the driver's buffer. A reader
    thread keeps only the newest frame and its capture time, and the loop always takes that."""
    import threading

    import cv2

    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise OSError(f"cannot open camera {index}")
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    latest: list = [None]
    fresh = threading.Condition()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            ok, bgr = capture.read()
            if not ok:
                break
            with fresh:
                latest[0] = (time.time(), bgr)
                fresh.notify_all()
        stop.set()
        with fresh:
            fresh.notify_all()

    thread = threading.Thread(target=reader, name="camera", daemon=True)
    thread.start()
    seen = 0.0
    try:
        while not stop.is_set():
            with fresh:
                fresh.wait_for(
                    lambda seen=seen: stop.is_set() or (latest[0] is not None and latest[0][0] > seen), timeout=5
                )
                item = latest[0]
            if item is None or item[0] <= seen:
                continue
            seen = item[0]
            yield item[0], cv2.cvtColor(item[1], cv2.COLOR_BGR2RGB)
    finally:
        stop.set()
        thread.join(timeout=2)
        capture.release()
