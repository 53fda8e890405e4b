"""The worker runs each periodic job when it is due, and every job at once when it starts."""

from __future__ import annotations

import pytest

from canteen.core import worker

# run_due closes stale database connections before each job, as the worker does between rounds.
pytestmark = pytest.mark.django_db


def _scheduled(monkeypatch, *periods: float) -> tuple[dict[str, worker.Job], list[str]]:
    ran: list[str] = []
    jobs = {}
    for seconds in periods:
        name = f"test.every_{int(seconds)}"
        jobs[name] = worker.Job(name, seconds, lambda name=name: ran.append(name) or "ok")
    monkeypatch.setattr(worker, "discover", lambda: jobs)
    return jobs, ran


def test_a_worker_started_soon_after_a_reboot_runs_its_daily_job_at_once(monkeypatch):
    # The monotonic clock counts from boot: two minutes after a reboot it reads about 120.
    _jobs, ran = _scheduled(monkeypatch, 2, 3600, 86400)
    results = worker.run_due(now=120.0)
    assert ran == ["test.every_2", "test.every_3600", "test.every_86400"]
    assert [text for _name, text in results] == ["ok", "ok", "ok"]


def test_each_job_runs_again_only_when_its_period_has_passed(monkeypatch):
    _jobs, ran = _scheduled(monkeypatch, 2, 3600)
    worker.run_due(now=1000.0)
    ran.clear()
    worker.run_due(now=1001.0)
    assert ran == []
    worker.run_due(now=1002.0)
    assert ran == ["test.every_2"]
    worker.run_due(now=4600.0)
    assert ran == ["test.every_2", "test.every_2", "test.every_3600"]


def test_a_failing_job_is_reported_and_the_others_still_run(monkeypatch):
    jobs, ran = _scheduled(monkeypatch, 60)

    def broken() -> str:
        raise RuntimeError("the database is away")

    jobs["test.broken"] = worker.Job("test.broken", 60, broken)
    results = dict(worker.run_due(now=10.0))
    assert ran == ["test.every_60"]
    assert isinstance(results["test.broken"], RuntimeError)
