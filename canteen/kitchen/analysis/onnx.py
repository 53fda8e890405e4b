"""An adapter for a district's ONNX classifier (e.g. "no hat", "no mask", "smoking", "phone").

The model contract: one image input, NCHW float32 RGB scaled to 0–1 at `size`, and one output of
shape [1, C] with per-class scores (probabilities, or logits with `softmax=True`). `labels` names
the C classes; the classes listed in `alarm_on` raise an alarm "detector:<label>" when their score
reaches `threshold`.

    CANTEEN_KITCHEN_ONNX = {"model": "/srv/models/hat.onnx", "labels": ["ok", "no_hat"],
                            "alarm_on": ["no_hat"], "threshold": 0.7, "size": [224, 224],
                            "areas": ["cooking", "portioning"]}
    CANTEEN_KITCHEN_DETECTORS = ["canteen.kitchen.analysis.onnx:from_settings"]

`onnxruntime` is only imported here and only if a district configures a model; this project
ships and downloads no weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings

from .detectors import Finding, Sample


class DetectorUnavailable(RuntimeError):
    pass


class OnnxClassifier:
    def __init__(
        self,
        model: str,
        labels: list[str],
        alarm_on: list[str],
        threshold: float = 0.6,
        size: tuple[int, int] = (224, 224),
        softmax: bool = False,
        areas: list[str] | None = None,
        name: str | None = None,
    ) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise DetectorUnavailable("onnxruntime is not installed; pip install onnxruntime") from exc
        if not Path(model).is_file():
            raise DetectorUnavailable(f"ONNX model not found: {model}")
        self.session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.labels, self.alarm_on, self.threshold = labels, set(alarm_on), threshold
        self.size, self.softmax, self.areas = tuple(size), softmax, set(areas or [])
        self.name = name or f"onnx:{Path(model).stem}"

    def analyse(self, sample: Sample, state: dict) -> list[Finding]:
        import cv2

        if self.areas and sample.area not in self.areas:
            return []
        rgb = cv2.cvtColor(cv2.resize(sample.image, self.size), cv2.COLOR_BGR2RGB)
        tensor = (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        scores = np.asarray(self.session.run(None, {self.input_name: tensor})[0]).reshape(-1)
        if self.softmax:
            scores = np.exp(scores - scores.max())
            scores = scores / scores.sum()
        findings = []
        for index, label in enumerate(self.labels):
            if label in self.alarm_on and index < len(scores) and scores[index] >= self.threshold:
                findings.append(Finding(f"detector:{label}", score=float(scores[index]), detail={"model": self.name}))
        return findings


def from_settings() -> OnnxClassifier:
    config = dict(getattr(settings, "CANTEEN_KITCHEN_ONNX", {}) or {})
    if "model" not in config:
        raise DetectorUnavailable("CANTEEN_KITCHEN_ONNX has no model path")
    return OnnxClassifier(**config)
