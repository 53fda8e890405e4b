"""Many checkouts of one wallet at once, on PostgreSQL with real threads (each its own
connection): the books never go below zero and nothing is served twice."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from canteen.consumption import services
from canteen.consumption.errors import AlreadyServed, InsufficientBalance
from canteen.consumption.models import MealRecord
from canteen.ledger.models import Posting

from .conftest import balance, fund

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("checkout_path"),
    # SQLite serializes writers by refusing them ("database is locked"); the demo has one window.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"),
]

THREADS = 50


def run_concurrently(jobs):
    """Start every job at the same moment; collect (result or exception) per job."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def menus_for_days(campus, days: int) -> list[datetime]:
    """Breakfast, lunch and dinner published for `days` days back from today; returns one
    moment inside each session (the backlog of an offline terminal syncing)."""
    from canteen.meals import services as meals_services
    from canteen.meals.choices import SessionKind
    from canteen.meals.tests.factories import SESSION_TIMES, make_meal_setup

    kinds = (SessionKind.BREAKFAST, SessionKind.LUNCH, SessionKind.DINNER)
    setup = make_meal_setup(campus, kinds=kinds)
    moments = []
    today = timezone.localdate()
    for back in range(days):
        day = today - timedelta(days=back)
        for kind in kinds:
            session = setup.sessions[kind]
            menu = meals_services.menu_set_entries(
                actor=None,
                campus=campus,
                session=session,
                day=day,
                entries={setup.set_meals["A"]: list(setup.set_meals["A"].dishes.all())},
            )
            meals_services.menu_publish(actor=None, menu=menu)
            start, _end = SESSION_TIMES[kind]
            moments.append(timezone.make_aware(datetime.combine(day, start) + timedelta(minutes=10)))
    return moments, setup.set_meals["A"].price_fen


def test_fifty_concurrent_checkouts_of_one_wallet_never_overdraw(world):
    campus, window, operator = world.campuses[0], world.windows[0], world.user("window_operator")
    moments, price = menus_for_days(campus, 17)
    student = world.students[0]
    affordable = 20
    fund(student, f"{price * affordable // 100}.{price * affordable % 100:02d}")

    def job(i):
        return lambda: services.checkout_record(
            student=student, method="manual", idempotency_key=f"c-{i}", actor=operator, window=window, at=moments[i]
        )

    results = run_concurrently([job(i) for i in range(THREADS)])
    served = [r for r in results if isinstance(r, services.CheckoutResult)]
    refused = [r for r in results if isinstance(r, InsufficientBalance)]
    assert len(served) + len(refused) == THREADS, [r for r in results if isinstance(r, Exception)]
    assert len(served) == affordable
    assert balance(student) == 0
    assert MealRecord.objects.filter(student=student).count() == affordable
    assert Posting.objects.filter(kind="meal_charge", student=student).count() == affordable
    assert sorted(r.balance_after.fen for r in served) == [price * n for n in range(affordable)]


def test_fifty_concurrent_checkouts_in_one_session_serve_one_meal(world):
    from .conftest import serve_all_day

    campus, window, operator = world.campuses[0], world.windows[0], world.user("window_operator")
    serve_all_day(campus)
    student = world.students[0]
    fund(student, "100.00")
    before = balance(student)

    def job(i):
        return lambda: services.checkout_record(
            student=student, method="manual", idempotency_key=f"s-{i}", actor=operator, window=window
        )

    results = run_concurrently([job(i) for i in range(THREADS)])
    served = [r for r in results if isinstance(r, services.CheckoutResult)]
    refused = [r for r in results if isinstance(r, AlreadyServed)]
    assert len(served) == 1
    assert len(refused) == THREADS - 1
    assert balance(student) == before - served[0].record.price_fen


def test_fifty_concurrent_retries_with_one_key_charge_once(world):
    from .conftest import serve_all_day

    campus, window, operator = world.campuses[0], world.windows[0], world.user("window_operator")
    serve_all_day(campus)
    student = world.students[0]
    fund(student, "100.00")

    def job():
        return services.checkout_record(
            student=student, method="manual", idempotency_key="same", actor=operator, window=window
        )

    results = run_concurrently([job] * THREADS)
    assert all(isinstance(r, services.CheckoutResult) for r in results), results
    assert len({r.record.pk for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert Posting.objects.filter(kind="meal_charge", student=student).count() == 1
