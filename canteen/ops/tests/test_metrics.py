"""Prometheus scrapes the district during lunch: it must show the meals served and refused per
campus, the outbox backlog, the worker's jobs and when each terminal was last seen, and nobody
without the token (or outside the allowed network) may read it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from canteen.consumption import services as consumption
from canteen.consumption.errors import InsufficientBalance
from canteen.consumption.tests.conftest import fund
from canteen.core import worker
from canteen.core.worker import Job

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "canteen.rules.yml"


def _scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def token(settings):
    settings.CANTEEN_METRICS_TOKEN = "scrape-secret-26"
    settings.CANTEEN_METRICS_ALLOW = []
    return {"HTTP_AUTHORIZATION": "Bearer scrape-secret-26"}


def test_a_scripted_lunch_shows_in_the_metrics(
    client, world, canteen, operator, registered_terminal, token, monkeypatch
):
    campus = canteen.campus.code
    before = _scrape(client, **token)
    terminal, _ = registered_terminal
    consumption.terminal_touch(terminal=terminal)
    pupils = [s for s in world.students if s.campus_id == canteen.campus.pk]
    for i, student in enumerate(pupils[:2]):
        fund(student, "20.00")
        consumption.checkout_at_window(
            actor=operator, terminal=None, method="manual", idempotency_key=f"m-{i}",
            student_id=student.pk, window_id=canteen.window.pk,
        )  # fmt: skip
    poor = pupils[2]
    fund(poor, "1.00")
    with pytest.raises(InsufficientBalance):
        consumption.checkout_at_window(
            actor=operator, terminal=None, method="manual", idempotency_key="m-poor",
            student_id=poor.pk, window_id=canteen.window.pk,
        )  # fmt: skip

    def ok() -> str:
        return "ok"

    def broken() -> str:
        raise RuntimeError("disk full")

    jobs = {"t26.ok": Job("t26.ok", 60, ok), "t26.broken": Job("t26.broken", 60, broken)}
    monkeypatch.setattr(worker, "discover", lambda: jobs)
    # The worker closes stale connections between jobs; the test's transaction must stay open.
    monkeypatch.setattr("django.db.close_old_connections", lambda: None)
    worker.run_due()

    after = _scrape(client, **token)
    assert _value(after, "canteen_checkouts_today", campus=campus) == 2
    refused = "canteen_checkout_refusals_total"
    assert (
        _value(after, refused, campus=campus, reason="insufficient_balance")
        - _value(before, refused, campus=campus, reason="insufficient_balance")
        == 1
    )
    assert _value(after, "canteen_outbox_backlog") >= 2  # at least one consumption.meal_served each
    assert _value(after, "canteen_outbox_oldest_age_seconds") >= 0
    for job in ("t26.ok", "t26.broken"):
        assert (
            _value(after, "canteen_worker_job_runs_total", job=job)
            - _value(before, "canteen_worker_job_runs_total", job=job)
            == 1
        )
    assert (
        _value(after, "canteen_worker_job_failures_total", job="t26.broken")
        - _value(before, "canteen_worker_job_failures_total", job="t26.broken")
        == 1
    )
    assert _value(after, "canteen_worker_job_failures_total", job="t26.ok") == 0
    terminal.refresh_from_db()
    seen = _value(after, "canteen_terminal_last_seen_timestamp_seconds", campus=campus, terminal=terminal.code)
    assert seen == pytest.approx(terminal.last_seen_at.timestamp())


def test_metrics_are_closed_without_the_token_or_the_network(client, db, settings):
    settings.CANTEEN_METRICS_TOKEN = ""
    settings.CANTEEN_METRICS_ALLOW = []
    assert client.get("/metrics").status_code == 403  # nothing configured: closed
    settings.CANTEEN_METRICS_TOKEN = "scrape-secret-26"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-26").status_code == 200
    settings.CANTEEN_METRICS_ALLOW = ["10.9.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.9.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.5").status_code == 403


def test_the_alert_rules_parse_and_name_only_metrics_we_export():
    rules = yaml.safe_load(RULES.read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {a["alert"] for a in alerts} >= {"CanteenOutboxBacklog", "CanteenWorkerJobFailing", "CanteenTerminalOffline"}
    exported = {
        "canteen_checkouts_today", "canteen_checkout_refusals_total", "canteen_outbox_backlog",
        "canteen_outbox_oldest_age_seconds", "canteen_worker_job_runs_total", "canteen_worker_job_failures_total",
        "canteen_terminal_last_seen_timestamp_seconds",
    }  # fmt: skip
    import re

    for alert in alerts:
        assert alert["annotations"]["summary"], alert["alert"]
        assert alert["annotations"]["action"], alert["alert"]
        assert alert["labels"]["severity"] in {"warning", "critical"}
        for name in re.findall(r"\bcanteen_[a-z_]+", alert["expr"]):
            assert name in exported, f"{alert['alert']} uses {name}, which /metrics does not export"
    promtool = shutil.which("promtool")
    if promtool:  # Debian's prometheus package has it; checked where installed
        done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        # Unit tests of the rules: the backlog and failing-job alerts fire on the series they should.
        done = subprocess.run(
            [promtool, "test", "rules", RULES.with_name("canteen.rules.test.yml").name],
            capture_output=True, text=True, cwd=RULES.parent,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
