"""A small job runner with no broker: periodic jobs registered by the domains, run by
`canteen worker`. It works the same on SQLite (the demo) and PostgreSQL (production).

    # canteen/<domain>/tasks.py
    from canteen.core.worker import periodic

    @periodic(seconds=60, name="supervision.sweep_sources")
    def sweep() -> str: ...   # returns a short summary for the log

Jobs must be idempotent: a job may run twice if a worker dies between work and bookkeeping.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps

log = logging.getLogger("canteen.worker")


@dataclass
class Job:
    name: str
    every_seconds: float
    func: Callable[[], object]
    # None until it first runs: a fresh worker runs every job at once. (Starting from 0.0 made
    # a job wait until the machine's monotonic clock, its uptime, passed the period: after a
    # reboot, the daily partition job would not run for a day.)
    last_run: float | None = None


_jobs: dict[str, Job] = {}


def periodic(*, seconds: float, name: str | None = None) -> Callable[[Callable[[], object]], Callable[[], object]]:
    def register(func: Callable[[], object]) -> Callable[[], object]:
        job_name = name or f"{func.__module__}.{func.__name__}"
        _jobs[job_name] = Job(job_name, seconds, func)
        return func

    return register


def discover() -> dict[str, Job]:
    for config in apps.get_app_configs():
        if config.name.startswith("canteen."):
            try:
                importlib.import_module(f"{config.name}.tasks")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.tasks":
                    raise
    return dict(_jobs)


def run_due(now: float | None = None) -> list[tuple[str, object]]:
    """Run every job that is due once; returns (name, result or exception)."""
    from django.db import close_old_connections

    now = time.monotonic() if now is None else now
    results = []
    for job in discover().values():
        if job.last_run is not None and now - job.last_run < job.every_seconds:
            continue
        job.last_run = now
        close_old_connections()
        from canteen.core.metrics import JOB_FAILURES, JOB_RUNS

        JOB_RUNS.labels(job.name).inc()
        try:
            results.append((job.name, job.func()))
        except Exception as exc:  # a failing job must not stop the others
            log.exception("job %s failed", job.name)
            JOB_FAILURES.labels(job.name).inc()
            results.append((job.name, exc))
    return results
