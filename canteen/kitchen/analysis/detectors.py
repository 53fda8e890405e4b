"""Detectors run by the analyser on frames sampled every few seconds.

The interface (also for a district's own detectors, see canteen.kitchen.analysis.plugins):

    class MyDetector:
        name = "my_detector"
        def analyse(self, sample: Sample, state: dict) -> list[Finding]: ...

`sample.gray` is a small grayscale frame (uint8, about 160×90), `sample.image` the decoded
full frame (BGR uint8), `state` a dict kept per camera and detector between samples. A Finding's
kind becomes the alarm kind; the analyser adds the snapshot and the clip and rate-limits alarms.

The defaults need no downloaded weights: after-hours motion, camera covered, camera moved.
(A stream gone dark has no frames to look at; the analyser checks it from the files.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from ..choices import AlarmKind


@dataclass
class Sample:
    camera_id: str
    at: datetime  # aware
    gray: np.ndarray
    image: np.ndarray
    working: bool  # inside the canteen's working hours
    area: str = ""


@dataclass
class Finding:
    kind: str
    score: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


class Detector(Protocol):
    name: str

    def analyse(self, sample: Sample, state: dict) -> list[Finding]: ...


def _blur(gray: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(gray, (5, 5), 0)


class AfterHoursMotion:
    """Frame differencing between consecutive samples; only outside working hours (rodents,
    intrusion). `pixel_delta` ignores sensor noise, `min_fraction` tiny changes, and the top
    `ignore_top` of the picture is left out: cameras burn their clock (OSD) in there, and a
    ticking clock is not an intruder."""

    name = "after_hours_motion"

    def __init__(self, pixel_delta: int = 25, min_fraction: float = 0.01, ignore_top: float = 0.15) -> None:
        self.pixel_delta = pixel_delta
        self.min_fraction = min_fraction
        self.ignore_top = ignore_top

    def analyse(self, sample: Sample, state: dict) -> list[Finding]:
        current = _blur(sample.gray)
        previous = state.get("previous")
        state["previous"] = current
        if previous is None or previous.shape != current.shape or sample.working:
            return []
        changed = np.abs(current.astype(np.int16) - previous.astype(np.int16)) > self.pixel_delta
        fraction = float(changed[int(changed.shape[0] * self.ignore_top) :].mean())
        if fraction < self.min_fraction:
            return []
        return [Finding(AlarmKind.AFTER_HOURS_MOTION, score=fraction, detail={"changed_fraction": round(fraction, 4)})]


class CameraCovered:
    """A very dark or almost uniform picture for `samples` samples in a row, during working
    hours: at night an unlit kitchen is dark by design (motion then is the after-hours detector's)."""

    name = "covered"

    def __init__(self, max_mean: float = 18.0, max_std: float = 6.0, samples: int = 2) -> None:
        self.max_mean, self.max_std, self.samples = max_mean, max_std, samples

    def analyse(self, sample: Sample, state: dict) -> list[Finding]:
        if not sample.working:
            state["run"] = 0
            return []
        mean, std = float(sample.gray.mean()), float(sample.gray.std())
        covered = mean <= self.max_mean or std <= self.max_std
        state["run"] = state.get("run", 0) + 1 if covered else 0
        if state["run"] == self.samples:  # once per covered spell
            return [
                Finding(AlarmKind.COVERED, score=1.0 - std / 128, detail={"mean": round(mean, 1), "std": round(std, 1)})
            ]
        return []


class CameraMoved:
    """The scene differs from a reference frame (edges of the fixed background, which people
    walking through barely change) for `samples` samples in a row; the new view then becomes
    the reference. Working hours only: the lit kitchen is the reference, not the dark one."""

    name = "moved"

    def __init__(self, min_similarity: float = 0.35, samples: int = 3, settle: int = 2) -> None:
        self.min_similarity, self.samples, self.settle = min_similarity, samples, settle

    @staticmethod
    def _edges(gray: np.ndarray) -> np.ndarray:
        import cv2

        edges = cv2.Canny(_blur(gray), 40, 120).astype(np.float32)
        return cv2.GaussianBlur(edges, (9, 9), 0)

    @staticmethod
    def _similarity(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a - a.mean(), b - b.mean()
        denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
        return float((a * b).sum() / denominator) if denominator else 1.0

    def analyse(self, sample: Sample, state: dict) -> list[Finding]:
        if not sample.working or sample.gray.std() <= 6.0:  # covered: the covered detector's business
            return []
        edges = self._edges(sample.gray)
        state["seen"] = state.get("seen", 0) + 1
        reference = state.get("reference")
        if reference is None or reference.shape != edges.shape:
            if state["seen"] >= self.settle:
                state["reference"] = edges
            return []
        similarity = self._similarity(reference, edges)
        state["run"] = state.get("run", 0) + 1 if similarity < self.min_similarity else 0
        if state["run"] >= self.samples:
            state["run"] = 0
            state["reference"] = edges
            return [Finding(AlarmKind.MOVED, score=1.0 - similarity, detail={"similarity": round(similarity, 3)})]
        return []


def default_detectors() -> list[Detector]:
    return [AfterHoursMotion(), CameraCovered(), CameraMoved()]
