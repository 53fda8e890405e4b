"""Detectors a district supplies (uniform, hat, mask, smoking, phone …), without changing our code.

Two ways to register one; each names a factory (a class or function) that returns an object with
`name` and `analyse(sample, state) -> list[Finding]` (see analysis/detectors.py):

1. Settings or environment, a list of "package.module:factory" (environment: comma separated):

       CANTEEN_KITCHEN_DETECTORS = [
           "canteen.kitchen.analysis.onnx:from_settings",          # the ONNX adapter below
           "district_models.smoking:SmokingDetector",              # a Python class of your own
       ]

2. A Python package's entry point in the group "canteen.kitchen.detectors":

       [project.entry-points."canteen.kitchen.detectors"]
       smoking = "district_models.smoking:SmokingDetector"

An ONNX model is wrapped by canteen.kitchen.analysis.onnx.OnnxClassifier, which needs the
`onnxruntime` package installed by the district; nothing is downloaded by this project. A factory
that fails to load is logged and skipped: one bad plug-in must not stop the default detectors.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points

from django.conf import settings

from .detectors import Detector, default_detectors

log = logging.getLogger("canteen.kitchen.analysis")

ENTRY_POINT_GROUP = "canteen.kitchen.detectors"


def _load(path: str):
    module_name, _, attr = path.partition(":")
    if not attr:
        module_name, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def configured_paths() -> list[str]:
    env = os.environ.get("CANTEEN_KITCHEN_DETECTORS")
    if env is not None:
        return [p.strip() for p in env.split(",") if p.strip()]
    return list(getattr(settings, "CANTEEN_KITCHEN_DETECTORS", []))


def plugin_detectors(paths: list[str] | None = None) -> list[Detector]:
    factories = []
    for path in configured_paths() if paths is None else paths:
        factories.append((path, lambda p=path: _load(p)))
    if paths is None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            factories.append((f"{ep.name} ({ep.value})", ep.load))
    detectors: list[Detector] = []
    for label, load in factories:
        try:
            detector = load()()
        except Exception:
            log.exception("detector plug-in %s could not be loaded; skipped", label)
            continue
        if not hasattr(detector, "analyse") or not getattr(detector, "name", ""):
            log.error("detector plug-in %s has no name/analyse(); skipped", label)
            continue
        detectors.append(detector)
    return detectors


def all_detectors(paths: list[str] | None = None) -> list[Detector]:
    return [*default_detectors(), *plugin_detectors(paths)]
