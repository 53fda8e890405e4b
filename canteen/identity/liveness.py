"""Liveness at the window terminal: a printed photo or a phone screen held up to the camera must
not check a pupil out.

Two sources, either enough when a campus requires liveness (consumption's CampusCheckoutPolicy):

1. **The camera module's own signal** (an IR or depth module that reports live / not live per
   frame): the terminal passes it through; "not live" refuses at once.
2. **A multi-frame check** from what the face model package ships (dlib's 68-point landmark
   model, `face_recognition_models`): over the frames of one approach, a photo or a screen is a
   *plane*, so however a hand moves it (shift, rotation, scale, tilt, perspective) its landmarks
   in any two frames are related by one homography. A live face blinks: the eyelids move
   against the rest of the face. For each frame the homography that maps its anchor landmarks
   (jaw, brows, nose: 36 points) onto the first frame's is fitted and the eye landmarks are
   carried through it, which removes every planar motion; the eye aspect ratio (EAR, eyelid
   opening over eye width) of the rectified eyes then stays put for a plane and drops in a
   blink. Both eyes must close together (landmark noise on one eye does not) and stay closed
   over two consecutive frames (a glitch lasts one), relative to the approach's own median,
   by `threshold`.

What it does not stop: a video replay of a blinking face on a screen, a mask, or a photo with
the eyes cut out and a real person's eyes behind it. A camera module with IR or depth does;
this check raises the cost of the easiest attack (a photo from a class album or a phone).
Measured figures and what they were measured on: docs/face-matching.md, "Liveness".
"""

from __future__ import annotations

import importlib.resources
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

# dlib's 68-point layout (iBUG 300-W): 0-16 jaw, 17-26 brows, 27-35 nose, 36-41 and 42-47 the
# eyes (corner, two upper lid, corner, two lower lid), 48-67 the mouth.
ANCHORS = np.arange(0, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)


@dataclass(frozen=True)
class LivenessResult:
    live: bool
    # How far both eyes closed at once, relative to the approach's median (0: never; 1: shut).
    score: float
    frames: int
    reason: str  # "blink", "camera", "no_blink", "too_few_frames", "camera_refused"


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """(|p2 − p6| + |p3 − p5|) / (2 |p1 − p4|) of one eye's six landmarks."""
    width = float(np.linalg.norm(eye[0] - eye[3]))
    if width < 1e-6:
        return 0.0
    return float((np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])) / (2.0 * width))


def rectified_ears(sequence: list[np.ndarray]) -> np.ndarray:
    """Per frame, both eyes' EAR after the frame's anchor landmarks are mapped onto the first
    frame's by a fitted homography (least squares over 36 points): a planar motion leaves them
    unchanged."""
    import cv2

    reference = sequence[0][ANCHORS].astype(np.float64)
    out = np.empty((len(sequence), 2))
    for i, points in enumerate(sequence):
        homography, _ = cv2.findHomography(points[ANCHORS].astype(np.float64), reference, 0)
        if homography is None:
            rectified = points.astype(np.float64)
        else:
            rectified = cv2.perspectiveTransform(points[None].astype(np.float64), homography)[0]
        out[i] = (eye_aspect_ratio(rectified[RIGHT_EYE]), eye_aspect_ratio(rectified[LEFT_EYE]))
    return out


def blink_score(sequence: list[np.ndarray]) -> float:
    """How far both rectified eyes closed together in one frame, relative to their medians."""
    ears = rectified_ears(sequence)
    median = np.median(ears, axis=0)
    if np.any(median <= 1e-6):
        return 0.0
    closed = 1.0 - np.max(ears / median, axis=1)  # both eyes: the less closed one counts
    if len(closed) < 2:
        return 0.0
    # A blink lasts 100-400 ms, two frames or more at the window's frame rate; a landmark
    # glitch lasts one. The closure held over two consecutive frames counts.
    held = np.minimum(closed[:-1], closed[1:])
    return float(max(0.0, held.max()))


class LivenessCheck:
    """The multi-frame check. `landmarks()` runs the 68-point model on one face (≈ 1 ms);
    `Approach` keeps one face's landmarks across the frames of its approach to the window."""

    _default: LivenessCheck | None = None
    _lock = threading.Lock()

    def __init__(self, *, threshold: float = 0.15, min_frames: int = 4, window_s: float = 4.0) -> None:
        import dlib

        models = importlib.resources.files("face_recognition_models") / "models"
        with importlib.resources.as_file(models / "shape_predictor_68_face_landmarks.dat") as path:
            self._shape = dlib.shape_predictor(str(path))
        self._dlib = dlib
        self.threshold = threshold
        self.min_frames = min_frames
        self.window_s = window_s

    @classmethod
    def default(cls) -> LivenessCheck:
        if cls._default is None:
            with cls._lock:
                if cls._default is None:
                    cls._default = cls()
        return cls._default

    def landmarks(self, image: np.ndarray, box: object) -> np.ndarray:
        rect = self._dlib.rectangle(box.left, box.top, box.right, box.bottom)  # type: ignore[attr-defined]
        shape = self._shape(image, rect)
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)

    def judge(self, sequence: list[np.ndarray]) -> LivenessResult:
        if len(sequence) < self.min_frames:
            return LivenessResult(False, 0.0, len(sequence), "too_few_frames")
        score = blink_score(sequence)
        live = score >= self.threshold
        return LivenessResult(live, round(score, 4), len(sequence), "blink" if live else "no_blink")

    def approach(self) -> Approach:
        return Approach(self)


class Approach:
    """One face's frames at the window. A new approach starts when no face was seen for a
    moment or the face jumped (another pupil stepped up)."""

    def __init__(self, check: LivenessCheck, *, gap_s: float = 1.0, max_frames: int = 60) -> None:
        self.check = check
        self.gap_s = gap_s
        self._frames: deque[tuple[float, np.ndarray]] = deque(maxlen=max_frames)
        self._last_center: tuple[float, float, float] | None = None
        self.passed_at: float | None = None

    def reset(self) -> None:
        self._frames.clear()
        self._last_center = None
        self.passed_at = None

    def observe(self, ts: float, image: np.ndarray, box: object) -> LivenessResult:
        """Add this frame's face; the verdict over the approach so far. A face that passed stays
        passed for the rest of its approach."""
        cx = (box.left + box.right) / 2  # type: ignore[attr-defined]
        cy = (box.top + box.bottom) / 2  # type: ignore[attr-defined]
        width = float(box.right - box.left)  # type: ignore[attr-defined]
        if self._frames and (
            ts - self._frames[-1][0] > self.gap_s
            or (
                self._last_center is not None and np.hypot(cx - self._last_center[0], cy - self._last_center[1]) > width
            )
        ):
            self.reset()
        self._last_center = (cx, cy, width)
        self._frames.append((ts, self.check.landmarks(image, box)))
        while self._frames and ts - self._frames[0][0] > self.check.window_s:
            self._frames.popleft()
        if self.passed_at is not None:
            return LivenessResult(True, 1.0, len(self._frames), "blink")
        result = self.check.judge([points for _ts, points in self._frames])
        if result.live:
            self.passed_at = ts
        return result
