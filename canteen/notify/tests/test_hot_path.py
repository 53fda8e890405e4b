"""Notifications stay off the checkout's path: no in-process subscriber on its topics (one
without `prepare` would send every checkout down the Python path, and its I/O would hold the
student's lock); the per-meal rule runs from the outbox, in the worker."""

from __future__ import annotations

from canteen.core.events import subscribers_of
from canteen.notify.services import _batch_rules, rules_of

HOT = ["consumption.meal_served", "ledger.meal_charged", "ledger.low_balance", "ledger.topup_credited"]


def test_notify_subscribes_to_nothing_in_process():
    for topic in HOT:
        assert not [h for h in subscribers_of(topic) if h.__module__.startswith("canteen.notify")]
    # The checkout can still ask every subscriber its rows in advance (its one-call path).
    for topic in ("consumption.meal_served", "ledger.meal_charged"):
        assert all(getattr(h, "prepare", None) for h in subscribers_of(topic))


def test_every_topic_of_the_shared_list_has_a_rule():
    topics = [
        "ledger.topup_credited",
        "ledger.refund_succeeded",
        "ledger.daily_limit_reached",
        "ledger.low_balance",
        "consumption.allergen_conflict",
        "trace.recall_started",
        "trace.recall_raised",
        "trace.cold_chain_break",
        "procurement.coldchain_breach",
        "procurement.licence_expiring",
        "org.verification_code",
        "org.student_left",
        "kitchen.alarm_raised",
        "kitchen.record_missing",
        "supervision.case_moved",
        "supervision.feedback_answered",
    ]
    assert [t for t in topics if not rules_of(t)] == []
    assert "ledger.meal_charged" in _batch_rules
