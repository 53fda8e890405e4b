"""Rollups equal a direct count of the facts after random inserts and corrections: live (rollup
plus the deltas not yet folded) and after the fold."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canteen.core.events import Event, subscribers_of
from canteen.supervision import handlers, rollups
from canteen.supervision.models import (
    DELTA_COUNTERS,
    DailyCampusStats,
    DailyDistrictStats,
    HourlyCampusMeals,
    RollupDelta,
)
from canteen.supervision.rebuild import rollups_rebuild

from . import events

pytestmark = pytest.mark.django_db

DAY0 = date(2026, 3, 2)

serve = st.tuples(
    st.just("serve"),
    st.integers(0, 3),  # campus index
    st.integers(0, 2),  # day offset
    st.sampled_from(["breakfast", "lunch", "dinner"]),
    st.integers(300, 1500),  # price in fen
)
void = st.tuples(st.just("void"), st.integers(0, 10_000))


def live_campus_days() -> dict[tuple, Counter]:
    """Per (day, campus): the rollup row plus the pending deltas, what a dashboard shows."""
    out: dict[tuple, Counter] = {}
    for model in (DailyCampusStats, RollupDelta):
        for r in model.objects.values("day", "campus_id", *DELTA_COUNTERS):
            out.setdefault((r["day"], str(r["campus_id"])), Counter()).update(
                {name: r[name] for name in DELTA_COUNTERS}
            )
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.one_of(serve, serve, void), min_size=1, max_size=40))
def test_meal_rollups_equal_a_direct_count_after_random_serves_and_voids(world, ops):
    with transaction.atomic():
        facts: list[dict] = []  # the oracle: every record with its status
        for op in ops:
            if op[0] == "serve":
                _, c, offset, session, price = op
                _, payload = events.meal_served(
                    world.campuses[c], day=DAY0 + timedelta(days=offset), session=session, amount_fen=price
                )
                facts.append({**payload, "voided": False, "campus": c})
            else:
                live = [f for f in facts if not f["voided"]]
                if live:
                    fact = live[op[1] % len(live)]
                    events.meal_voided({k: v for k, v in fact.items() if k not in ("voided", "campus")})
                    fact["voided"] = True

        expected = Counter()
        for f in facts:
            key = (date.fromisoformat(f["served_on"]), f["campus_id"])
            expected[key + ("served",)] += 1
            expected[key + ("voided",)] += f["voided"]
            expected[key + ("revenue",)] += 0 if f["voided"] else f["amount_fen"]
            expected[key + (f["session_kind"],)] += 0 if f["voided"] else 1
        days = {(date.fromisoformat(f["served_on"]), f["campus_id"]) for f in facts}
        n_events = len(facts) + sum(f["voided"] for f in facts)

        def assert_exact(rows: dict[tuple, Counter]) -> None:
            assert set(rows) == days
            for key, row in rows.items():
                assert row["meals_served"] == expected[key + ("served",)]
                assert row["meals_voided"] == expected[key + ("voided",)]
                assert row["meal_revenue_fen"] == expected[key + ("revenue",)]
                assert row["meals_breakfast"] == expected[key + ("breakfast",)]
                assert row["meals_lunch"] == expected[key + ("lunch",)]
                assert row["meals_dinner"] == expected[key + ("dinner",)]

        # Live, before any fold: the checkouts only appended deltas, one per event.
        assert RollupDelta.objects.count() == n_events
        assert not DailyCampusStats.objects.exists()
        assert_exact(live_campus_days())
        # After the fold: the same figures, now in the rollup rows alone.
        assert rollups.fold_all() == n_events
        assert not RollupDelta.objects.exists()
        assert_exact(live_campus_days())
        assert sum(h.meals for h in HourlyCampusMeals.objects.all()) == len(facts)
        # The per-district rows are the sums of the per-campus rows, campus-days included.
        rows = list(DailyCampusStats.objects.all())
        for d in DailyDistrictStats.objects.all():
            campus_rows = [r for r in rows if r.day == d.day and r.district_id == d.district_id]
            assert d.meals_served == sum(r.meals_served for r in campus_rows)
            assert d.meal_revenue_fen == sum(r.meal_revenue_fen for r in campus_rows)
            assert d.campus_meal_days == len(campus_rows)
        # The rebuild, replaying the stored events, agrees with the incremental rollups.
        report = rollups_rebuild(meals_from="events")
        assert report.ok, report.differences[:5]
        transaction.set_rollback(True)


def test_a_replayed_event_is_applied_once(world):
    event, _ = events.meal_served(world.campuses[0], day=DAY0)
    with transaction.atomic():
        ours = [h for h in subscribers_of("consumption.meal_served") if h.__module__ == handlers.__name__]
        assert len(ours) == 1
        for handler in ours:
            handler(Event(id=event.id, topic=event.topic, payload=event.payload, occurred_at=event.occurred_at))
    assert RollupDelta.objects.filter(event_id=event.id).count() == 1
    rollups.fold_all()
    assert DailyCampusStats.objects.get(day=DAY0).meals_served == 1


def test_a_failed_meal_transaction_leaves_no_count(world):
    def checkout_that_fails_after_publishing():
        with transaction.atomic():
            events.meal_served(world.campuses[0], day=DAY0)
            raise RuntimeError("the checkout failed after publishing")

    with pytest.raises(RuntimeError):
        checkout_that_fails_after_publishing()
    assert not RollupDelta.objects.exists()
    assert not DailyCampusStats.objects.exists()


def test_rebuild_reports_a_corrupted_row_and_repairs_it(world):
    for _ in range(3):
        events.meal_served(world.campuses[1], day=DAY0, amount_fen=400)
    events.ledger("ledger.topped_up", world.campuses[1], 10_000, day=DAY0)
    rollups.fold_all()
    DailyCampusStats.objects.filter(day=DAY0).update(meals_served=7, topups_fen=1)
    report = rollups_rebuild(meals_from="events")
    found = {(d.field, d.actual, d.expected) for d in report.differences}
    assert found == {("meals_served", 7, 3), ("topups_fen", 1, 10_000)}
    assert not report.applied
    repaired = rollups_rebuild(meals_from="events", apply=True)
    assert repaired.applied
    row = DailyCampusStats.objects.get(day=DAY0)
    assert (row.meals_served, row.topups_fen, row.topups_count) == (3, 10_000, 1)
    assert rollups_rebuild(meals_from="events").ok


def test_a_malformed_payload_is_skipped_without_breaking_the_publisher(world, settings):
    settings.CANTEEN_SUPERVISION_STRICT = False
    events.emit("consumption.meal_served", {"campus_id": "not-a-uuid", "amount_fen": "x"})
    events.emit("ledger.topped_up", {"amount_fen": 100})
    assert not DailyCampusStats.objects.exists()
    assert not RollupDelta.objects.exists()


def test_every_fact_kind_moves_its_counter(world):
    c = world.campuses[0]
    events.ledger("ledger.topped_up", c, 5000)
    events.ledger("ledger.subsidy_granted", c, 400)
    events.ledger("ledger.meal_charged", c, 500)
    events.ledger("ledger.supplier_paid", c, 90_000)
    events.delivery(c, accepted_fen=12_000)
    events.delivery(c, accepted_fen=3_000, trace_complete=True)
    events.delivery(c, accepted_fen=0, rejected=2)
    events.emit("procurement.batch_accepted", {**events.org(c), "batch_number": "B1", "on": str(DAY0)})
    events.nutrition(c, passed=True)
    events.nutrition(c, passed=False, flags=["energy_low"])
    events.alarm(c)
    events.record_missing(c)
    rollups.fold_all()
    today = DailyCampusStats.objects.exclude(day=DAY0).get(campus_id=c.pk)
    assert (today.topups_fen, today.topups_count, today.subsidy_fen, today.meal_charges_fen) == (5000, 1, 400, 500)
    assert today.food_spend_fen == 90_000
    assert (today.deliveries_accepted, today.deliveries_rejected, today.delivery_accepted_fen) == (2, 1, 15_000)
    assert today.deliveries_traced == 1  # the first delivery names no batches: not traceable
    assert (today.nutrition_checks, today.nutrition_failed, today.alarms, today.records_missing) == (2, 1, 1, 1)
    assert DailyCampusStats.objects.get(day=DAY0).batches_accepted == 1


def test_a_failing_checkout_path_handler_does_not_block_the_meal(world, settings, monkeypatch):
    """The checkout-path handlers run without a savepoint: a bug in one must still let the meal
    commit, leave its event unclaimed, and the rebuild count it from the stored event."""
    from canteen.supervision.models import ProcessedEvent

    settings.CANTEEN_SUPERVISION_STRICT = False

    def broken(payload):
        raise KeyError("a supervision bug")

    monkeypatch.setattr(rollups, "resolve_org", broken)
    event, _ = events.meal_served(world.campuses[0], day=DAY0)
    monkeypatch.undo()
    assert not RollupDelta.objects.exists()
    assert not ProcessedEvent.objects.filter(event_id=event.id).exists()
    report = rollups_rebuild(meals_from="events", apply=True)
    assert report.applied
    assert DailyCampusStats.objects.get(day=DAY0).meals_served == 1
