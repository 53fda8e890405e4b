"""1:N identification over a campus gallery: one matrix product over unit vectors.

A gallery holds one row per template (a student may have several, from several photos). The
decision uses two numbers (see docs/face-matching.md for the arithmetic behind them):

- the distance to the best template: close enough to be this student at all;
- the margin to the best template of a *different* student: far enough ahead that a look-alike
  in a gallery of thousands is not a coin toss.

    accept   distance <= accept_distance and margin >= min_margin
    confirm  distance <= confirm_distance (the screen shows the name and asks, or offers QR/PIN)
    reject   otherwise (unknown face)

Distances are Euclidean between L2-normalized dlib descriptors (0 = identical, 2 = opposite);
dlib's customary 0.6 on raw descriptors (norm ≈ 1.45) is ≈ 0.41 here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Decision = Literal["accept", "confirm", "reject"]


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Thresholds:
    accept_distance: float = 0.34
    confirm_distance: float = 0.42
    min_margin: float = 0.10

    @classmethod
    def from_settings(cls) -> Thresholds:
        from django.conf import settings

        def get(name: str, default: float) -> float:
            return float(getattr(settings, name, _env_float(name, default)))

        return cls(
            accept_distance=get("CANTEEN_FACE_ACCEPT_DISTANCE", cls.accept_distance),
            confirm_distance=get("CANTEEN_FACE_CONFIRM_DISTANCE", cls.confirm_distance),
            min_margin=get("CANTEEN_FACE_MIN_MARGIN", cls.min_margin),
        )


@dataclass(frozen=True)
class Match:
    student_id: str | None
    distance: float
    second_distance: float
    margin: float
    decision: Decision
    # The best candidate even when rejected or unsure, so a "confirm" screen can show a name;
    # student_id is None unless the decision is "accept" or "confirm".
    candidate_id: str | None = None

    @property
    def score(self) -> float:
        """A 0–1 similarity for display and records (1 − d²/2 is the cosine)."""
        return round(max(0.0, 1.0 - self.distance * self.distance / 2.0), 4)

    def as_dict(self) -> dict:
        return {
            "student_id": self.student_id,
            "distance": round(self.distance, 4),
            "second_distance": round(self.second_distance, 4),
            "margin": round(self.margin, 4),
            "decision": self.decision,
            "score": self.score,
        }


@dataclass
class Gallery:
    student_ids: list[str]
    matrix: np.ndarray  # (n, 128) float32, rows L2-normalized
    thresholds: Thresholds = field(default_factory=Thresholds)
    version: int = 0
    campus_id: str | None = None
    _codes: np.ndarray = field(init=False, repr=False)
    _names: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.matrix.ndim != 2 or (len(self.student_ids) and self.matrix.shape[1] != 128):
            raise ValueError("gallery matrix must be (n, 128)")
        if self.matrix.shape[0] != len(self.student_ids):
            raise ValueError("one student id per gallery row")
        # Integer codes per student make "best of a different student" a vector comparison.
        self._names, codes = np.unique(np.asarray(self.student_ids, dtype=object).astype(str), return_inverse=True)
        self._names = list(self._names)
        self._codes = codes.astype(np.int64)

    @classmethod
    def from_templates(
        cls,
        student_ids: Sequence[str],
        matrix: np.ndarray | Sequence[np.ndarray],
        *,
        thresholds: Thresholds | None = None,
        version: int = 0,
        campus_id: str | None = None,
    ) -> Gallery:
        ids = [str(s) for s in student_ids]
        m = np.asarray(matrix, dtype=np.float32).reshape(len(ids), -1) if len(ids) else np.zeros((0, 128), np.float32)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        m = m / np.where(norms == 0, 1, norms)
        return cls(
            ids,
            np.ascontiguousarray(m, dtype=np.float32),
            thresholds or Thresholds(),
            version=version,
            campus_id=campus_id,
        )

    def __len__(self) -> int:
        return len(self.student_ids)

    @property
    def student_count(self) -> int:
        return len(self._names)

    def without(self, student_ids: set[str]) -> Gallery:
        """A copy without these students (a terminal applying a withdrawal before its next sync)."""
        return self._keep([i for i, s in enumerate(self.student_ids) if s not in student_ids])

    def subset(self, student_ids: set[str]) -> Gallery:
        """A copy with only these students: a per-window gallery (the grades a window serves), or
        the candidates left by a second factor such as the last digits of the student number.
        A smaller N divides the chance of a false match by the same factor."""
        return self._keep([i for i, s in enumerate(self.student_ids) if s in student_ids])

    def _keep(self, keep: list[int]) -> Gallery:
        return Gallery.from_templates(
            [self.student_ids[i] for i in keep],
            self.matrix[keep] if keep else np.zeros((0, 128), np.float32),
            thresholds=self.thresholds,
            version=self.version,
            campus_id=self.campus_id,
        )

    def identify(self, embedding: np.ndarray, *, thresholds: Thresholds | None = None) -> Match:
        t = thresholds or self.thresholds
        if len(self.student_ids) == 0:
            return Match(None, 2.0, 2.0, 0.0, "reject")
        q = np.asarray(embedding, dtype=np.float32).reshape(-1)
        q = q / (np.linalg.norm(q) or 1.0)
        sims = self.matrix @ q
        best = int(np.argmax(sims))
        best_code = self._codes[best]
        others = sims[self._codes != best_code]
        second_sim = float(others.max()) if others.size else -1.0
        distance = float(np.sqrt(max(0.0, 2.0 - 2.0 * float(sims[best]))))
        second = float(np.sqrt(max(0.0, 2.0 - 2.0 * second_sim)))
        margin = second - distance
        if distance <= t.accept_distance and margin >= t.min_margin:
            decision: Decision = "accept"
        elif distance <= t.confirm_distance:
            decision = "confirm"
        else:
            decision = "reject"
        candidate = self.student_ids[best]
        return Match(
            candidate if decision != "reject" else None,
            distance,
            second,
            margin,
            decision,
            candidate_id=candidate,
        )
