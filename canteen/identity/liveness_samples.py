"""Approach sequences for measuring the liveness check (tests, bench/identify.py).

Attacks: each still portrait of the test set (six from the `insightface` wheel's group photo,
Tom Hanks from the same wheel, scikit-image's astronaut) printed or shown on a phone and moved as
a hand moves it in front of a 640×480 camera: a random walk of shift, in-plane rotation, scale
and tilt of the plane about both axes (up to ±25°, rendered as the perspective it is), with a
glare spot, a screen's moiré (an interference grating, slightly blue) or neither, sensor noise
and JPEG.

"Live": the SAME stills with a synthetic blink, a non-rigid change of the eye regions
over a few frames (eye opening 1 → 0.5 → shut for three frames → 0.5 → 1: a full blink at about 15 frames per second), drawn by painting the eye over with the skin around it, moved the same way. Real live video was not
available here: these are not faces, they are the one non-rigid motion the check looks for,
and the false-refusal rate measured on them says how the check behaves on a blink of that
depth at that resolution, not how often real pupils are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

BLINK = (1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.5, 1.0)


@dataclass(frozen=True)
class Sequence:
    person: str
    kind: str  # "photo", "screen", "photo+glare", "live"
    frames: list[np.ndarray]


def blink_warp(image: np.ndarray, landmarks: np.ndarray, opening: float) -> np.ndarray:
    """The eyes closed to `opening` (1 = as photographed, 0 = shut): the part of each eye
    outside the narrowed aperture is painted over with the surrounding skin (OpenCV's inpainting),
    and a shut eye gets its lash line. A picture of a blink, not a face: see the module's note."""
    import cv2

    if opening >= 0.999:
        return image
    out = image.copy()
    mask = np.zeros(image.shape[:2], np.uint8)
    lashes = []
    for eye in (landmarks[36:42], landmarks[42:48]):
        centre = eye.mean(axis=0)
        width = float(np.linalg.norm(eye[0] - eye[3]))
        # The eye and its lids: the landmark polygon grown by a fifth of the eye's width.
        grown = centre + (eye - centre) * np.array([1.15, 1.6])
        cv2.fillPoly(mask, [np.round(grown).astype(np.int32)], 255)
        aperture = centre + (eye - centre) * np.array([1.0, max(opening, 0.0)])
        if opening > 0.15:
            cv2.fillPoly(mask, [np.round(aperture).astype(np.int32)], 0)
        lashes.append((eye[0], eye[3], width))
    out = cv2.inpaint(out, mask, 5, cv2.INPAINT_TELEA)
    if opening <= 0.15:
        for left, right, width in lashes:
            middle = (left + right) / 2 + np.array([0, width * 0.08])
            points = np.round(np.array([left, middle, right])).astype(np.int32)
            cv2.polylines(out, [points], False, (40, 30, 30), max(1, round(width / 14)), cv2.LINE_AA)
    return out


def hand_motion(rng: np.random.Generator, n: int, width: int, height: int, face_px: float) -> list[np.ndarray]:
    """n homographies from the portrait to a 640×480 frame: the face about 150 px wide, moved by
    a random walk of shift, rotation, scale and tilt (a plane seen in perspective)."""
    focal = 700.0
    scale = 150.0 / face_px
    tx = ty = rot = tilt_x = tilt_y = 0.0
    zoom = 1.0
    out = []
    for _ in range(n):
        tx += rng.normal(0, 6)
        ty += rng.normal(0, 4)
        rot += rng.normal(0, 2)
        zoom *= 1 + rng.normal(0, 0.02)
        tilt_x = float(np.clip(tilt_x + rng.normal(0, 4), -25, 25))
        tilt_y = float(np.clip(tilt_y + rng.normal(0, 4), -25, 25))
        centre = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1]], float)
        sized = np.diag([scale * zoom, scale * zoom, 1.0])
        t = np.radians(rot)
        spin = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
        a, b = np.radians(tilt_x), np.radians(tilt_y)
        rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
        r = rx @ ry
        camera = np.array([[focal, 0, 320 + tx], [0, focal, 240 + ty], [0, 0, 1]])
        plane = np.column_stack([r[:, 0], r[:, 1], np.array([0, 0, focal])]) / focal
        out.append(camera @ plane @ spin @ sized @ centre)
    return out


def render(
    image: np.ndarray, homography: np.ndarray, rng: np.random.Generator, *, screen: bool, glare: bool
) -> np.ndarray:
    import cv2

    background = cv2.GaussianBlur(rng.integers(60, 140, (480, 640, 3), dtype=np.uint8), (0, 0), 3)
    frame = cv2.warpPerspective(
        image, homography, (640, 480), dst=background.copy(), borderMode=cv2.BORDER_TRANSPARENT
    ).astype(np.float32)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    if screen:
        fx, fy = rng.uniform(0.15, 0.35), rng.uniform(0.05, 0.3)
        frame *= (1 + 0.18 * np.sin(2 * np.pi * (fx * xx + fy * yy)))[..., None]
        frame[..., 2] *= 1.08
    if glare:
        gx, gy, radius = rng.uniform(200, 440), rng.uniform(120, 360), rng.uniform(30, 90)
        frame += (150 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * radius * radius)))[..., None]
    frame += rng.normal(0, 4, frame.shape)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    _ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def sequences(*, trials: int = 2, seed: int = 7, frames: int = len(BLINK)) -> Iterator[Sequence]:
    """Per person and trial: a photo with glare, a screen with moiré, a plain photo, and a
    synthetic blink, each moved by its own hand motion."""
    from canteen.identity.engine import FaceEngine
    from canteen.identity.liveness import LivenessCheck
    from canteen.identity.samples import portraits

    engine = FaceEngine.default()
    check = LivenessCheck.default()
    rng = np.random.default_rng(seed)
    blink = [BLINK[i % len(BLINK)] for i in range(frames)]
    for person, portrait in portraits().items():
        image = np.asarray(portrait.convert("RGB"))
        boxes = engine.detect(image, upsample=1)
        if not boxes:
            continue
        landmarks = check.landmarks(image, boxes[0])
        # The astronaut's portrait is mostly suit: her face is half as wide for the same frame.
        face_px = boxes[0].width * (0.5 if person == "astronaut" else 0.8)
        for _ in range(trials):
            for kind, screen, glare in (("photo+glare", False, True), ("screen", True, False), ("photo", False, False)):
                motion = hand_motion(rng, frames, image.shape[1], image.shape[0], face_px)
                yield Sequence(person, kind, [render(image, h, rng, screen=screen, glare=glare) for h in motion])
            motion = hand_motion(rng, frames, image.shape[1], image.shape[0], face_px)
            yield Sequence(
                person,
                "live",
                [
                    render(blink_warp(image, landmarks, o), h, rng, screen=False, glare=False)
                    for h, o in zip(motion, blink, strict=True)
                ],
            )


@dataclass
class Measured:
    person: str
    kind: str
    faces: int
    score: float
    live: bool
    seconds_per_approach: float


def measure(seqs: Iterator[Sequence], *, min_face_px: int = 100) -> list[Measured]:
    """Run the terminal's way: detect (faces of min_face_px or more), then the check's landmarks
    on every frame with a face; the verdict over the approach. The time is the check's own
    (landmarks + judging), per approach, detection excluded (the terminal detects anyway)."""
    import time

    from canteen.identity.engine import FaceEngine
    from canteen.identity.liveness import LivenessCheck

    engine = FaceEngine.default()
    check = LivenessCheck.default()
    out = []
    for seq in seqs:
        points = []
        spent = 0.0
        for frame in seq.frames:
            boxes = engine.detect(frame, min_face_px=min_face_px)
            if not boxes:
                continue
            t0 = time.perf_counter()
            points.append(check.landmarks(frame, boxes[0]))
            spent += time.perf_counter() - t0
        t0 = time.perf_counter()
        result = check.judge(points)
        spent += time.perf_counter() - t0
        out.append(Measured(seq.person, seq.kind, len(points), result.score, result.live, spent))
    return out
