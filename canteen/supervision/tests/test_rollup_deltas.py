"""The checkout path appends deltas instead of updating the campus-day row; a periodic fold adds
them to the rollups. A regulator sees the same exact figures before, during and after a fold."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from canteen.core.events import Event, subscribers_of
from canteen.core.models import OutboxEvent
from canteen.org.choices import Role
from canteen.supervision import handlers, rollups, selectors, services, tasks
from canteen.supervision.models import DailyCampusStats, DailyDistrictStats, HourlyCampusMeals, RollupDelta

from . import events

DAY0 = date(2026, 3, 2)


def _figures(data: dict) -> dict:
    """The dashboard's figures that the checkout path moves."""
    keep = ("meals_net", "meals_served", "meals_voided", "meal_revenue_fen", "meal_charges_fen", "topups_fen",
            "topups_count", "campus_meal_days", "meals_lunch", "participation_rate")  # fmt: skip
    return {
        "today": data["meals_today"],
        "term": data["meals_term"],
        "totals": {k: data["totals"][k] for k in keep},
        "children": sorted(
            (c["id"], c["meals_net"], c["meals_today"], c["campus_meal_days"]) for c in data["children"]
        ),
        "series": data["series"],
    }


@pytest.mark.django_db
def test_folding_is_exact_and_idempotent(world):
    services.campus_dim_refresh()
    regulator = world.user(Role.DISTRICT_REGULATOR)
    district = selectors.default_unit(regulator)
    today = timezone.localdate()
    start, end = today - timedelta(days=3), today
    a, b = world.campuses[0], world.campuses[1]
    # A top-up folded first leaves campus a's row with no meal: its first meal, folded later,
    # must still count the campus-day once.
    events.ledger("ledger.topped_up", a, 10_000, day=today)
    assert rollups.fold_all() == 1
    served = [
        events.meal_served(c, day=d, amount_fen=600)[1] for c in (a, a, b) for d in (today - timedelta(days=1), today)
    ]
    events.meal_voided(served[0])
    events.ledger("ledger.meal_charged", b, 600, day=today)
    events.ledger("ledger.topped_up", b, 5_000, day=today)

    live = _figures(selectors.dashboard(actor=regulator, unit=district, start=start, end=end))
    assert RollupDelta.objects.count() == 9
    assert live["today"] == 3
    assert live["totals"]["meals_net"] == 5
    assert live["totals"]["topups_fen"] == 15_000
    assert live["totals"]["campus_meal_days"] == 4

    assert tasks.fold_rollup_deltas() == "9 delta(s) folded"
    assert not RollupDelta.objects.exists()
    assert _figures(selectors.dashboard(actor=regulator, unit=district, start=start, end=end)) == live
    ddaily = DailyDistrictStats.objects.get(day=today, district_id=a.school.district_id)
    assert (ddaily.meals_served, ddaily.campus_meal_days, ddaily.topups_count) == (3, 2, 2)

    # Folding again, or replaying an event already applied, changes nothing.
    assert rollups.fold() == 0
    stored = OutboxEvent.objects.filter(topic="consumption.meal_served").order_by("id").first()
    ours = [h for h in subscribers_of("consumption.meal_served") if h.__module__ == handlers.__name__]
    with transaction.atomic():
        for handler in ours:
            handler(Event(id=stored.id, topic=stored.topic, payload=stored.payload, occurred_at=stored.occurred_at))
    assert not RollupDelta.objects.exists()
    assert _figures(selectors.dashboard(actor=regulator, unit=district, start=start, end=end)) == live


@pytest.mark.django_db
def test_the_big_screen_moves_with_every_meal_before_any_fold(world):
    services.campus_dim_refresh()
    regulator = world.user(Role.DISTRICT_REGULATOR)
    district = selectors.default_unit(regulator)
    now = timezone.localtime().replace(hour=11, minute=30)
    campus = world.campuses[1]
    before = selectors.bigscreen(actor=regulator, unit=district, now=now)
    assert before["meals_today"] == 0

    events.meal_served(campus, at=now, amount_fen=700)
    events.meal_served(campus, at=now + timedelta(minutes=5), amount_fen=700)
    screen = selectors.bigscreen(actor=regulator, unit=district, now=now)
    assert not DailyCampusStats.objects.exists()  # nothing folded yet
    assert screen["meals_today"] == 2
    assert screen["revenue_today_fen"] == 1400
    assert screen["campuses_serving"] == 1
    assert {h["hour"]: h["meals"] for h in screen["hourly"]}[11] == 2
    assert [(r["campus_id"], r["meals"]) for r in screen["ranking"]] == [(str(campus.pk), 2)]
    assert datetime.fromisoformat(screen["last_served_at"]) == now + timedelta(minutes=5)

    rollups.fold_all()
    after = selectors.bigscreen(actor=regulator, unit=district, now=now)
    keys = ("meals_today", "revenue_today_fen", "campuses_serving", "hourly", "ranking", "last_served_at")
    assert {k: after[k] for k in keys} == {k: screen[k] for k in keys}
    # The next meal after the fold shows at once, on top of the folded rows.
    events.meal_served(campus, at=now, amount_fen=700)
    assert selectors.bigscreen(actor=regulator, unit=district, now=now)["meals_today"] == 3
    assert HourlyCampusMeals.objects.get(campus_id=campus.pk).meals == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent transactions")
def test_concurrent_folds_and_checkouts_never_double_count(world):
    """Four folders (small batches, SKIP LOCKED) race each other and two serving windows; every
    meal is counted once, and no folder deadlocks with another or with a direct handler."""
    campuses = world.campuses[:4]
    for i in range(60):
        events.meal_served(campuses[i % 4], day=DAY0 + timedelta(days=(i // 4) % 2), amount_fen=500)
    errors: list[BaseException] = []
    serving_done = threading.Event()
    folded: list[int] = []

    def fold_loop() -> None:
        try:
            while True:
                n = rollups.fold(limit=7)
                folded.append(n)
                if n == 0 and serving_done.is_set():
                    return
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def serve_loop(offset: int) -> None:
        try:
            for i in range(30):
                with transaction.atomic():
                    events.meal_served(campuses[(i + offset) % 4], day=DAY0, amount_fen=500)
                # A direct (low-frequency) handler on the same campus and district rows.
                events.ledger("ledger.subsidy_granted", campuses[i % 4], 100, day=DAY0)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    servers = [threading.Thread(target=serve_loop, args=(k,)) for k in range(2)]
    folders = [threading.Thread(target=fold_loop) for _ in range(4)]
    for t in servers + folders:
        t.start()
    for t in servers:
        t.join()
    serving_done.set()
    for t in folders:
        t.join()
    assert errors == []
    # Every delta folded exactly once: by the racing folders, the rest by a last fold.
    assert sum(folded) + rollups.fold_all() == 120
    assert not RollupDelta.objects.exists()
    assert DailyCampusStats.objects.aggregate(n=Sum("meals_served"))["n"] == 120
    assert HourlyCampusMeals.objects.aggregate(n=Sum("meals"))["n"] == 120
    assert DailyDistrictStats.objects.aggregate(n=Sum("meals_served"))["n"] == 120
    assert DailyDistrictStats.objects.aggregate(n=Sum("campus_meal_days"))["n"] == 8  # 4 campuses × 2 days
    assert DailyCampusStats.objects.aggregate(n=Sum("subsidy_fen"))["n"] == 6_000
    # Outside a test transaction the dashboard reads rollup and pending deltas in one
    # REPEATABLE READ snapshot; one more meal, not folded, shows at once. DAY0 had 32 of the
    # first 60 meals (4 campuses, days alternating every 4 meals) and all 60 of the windows.
    events.meal_served(campuses[0], day=DAY0, amount_fen=500)
    services.campus_dim_refresh()
    city_user = world.user(Role.CITY_REGULATOR)
    city = selectors.dashboard(
        actor=city_user, unit=selectors.default_unit(city_user), start=DAY0, end=DAY0 + timedelta(days=1), today=DAY0
    )
    assert (city["totals"]["meals_net"], city["meals_today"], city["totals"]["campus_meal_days"]) == (
        121,
        32 + 60 + 1,
        8,
    )


def test_boarders_three_meals_do_not_push_participation_over_one_hundred_percent(world):
    """Participation on the big screen counts lunch takers per pupil, before and after a fold."""
    services.campus_dim_refresh()
    regulator = world.user(Role.DISTRICT_REGULATOR)
    district = selectors.default_unit(regulator)
    now = timezone.localtime().replace(hour=19, minute=0)
    campus = world.campuses[1]
    pupils = [str(s.pk) for s in world.students if s.campus_id == campus.pk]
    for pupil in pupils:
        for session in ("breakfast", "lunch", "dinner"):
            events.meal_served(campus, at=now, session=session, student_id=pupil)
    for screen in (selectors.bigscreen(actor=regulator, unit=district, now=now), None):
        if screen is None:
            rollups.fold_all()
            screen = selectors.bigscreen(actor=regulator, unit=district, now=now)
        assert screen["meals_today"] == 3 * len(pupils)
        row = next(r for r in screen["ranking"] if r["campus_id"] == str(campus.pk))
        assert row["participation_rate"] == 1.0
        assert screen["participation_rate"] == round(len(pupils) / screen["enrolled"], 4)
