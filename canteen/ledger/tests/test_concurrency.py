"""Lunch rush on PostgreSQL: many threads charge and top up the same wallet and different
wallets at once, with duplicate requests racing each other. No wallet goes below zero, every
charge is counted once, and the books still balance."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.errors import InsufficientFunds
from canteen.ledger.models import Posting
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Relation
from canteen.org.models import GuardianLink, User

from .helpers import assert_books_balance

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency: PostgreSQL"),
]

THREADS = 8


def _in_threads(jobs):
    """Run each job list in its own thread (own connection); collect outcomes."""
    outcomes: list[tuple[str, object]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs))

    def worker(job_list):
        try:
            barrier.wait()
            for job in job_list:
                try:
                    result = job()
                    with lock:
                        outcomes.append(("ok", result))
                except InsufficientFunds:
                    with lock:
                        outcomes.append(("insufficient", None))
                except Exception as exc:  # recorded and asserted on below
                    with lock:
                        outcomes.append(("error", repr(exc)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(job_list,)) for job_list in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_parallel_charges_on_one_wallet_never_overdraw_it(world):
    admin = User.objects.create_superuser("conc-admin", password="x")
    student = world.students[0]
    services.top_up(student=student, amount=Money(10_000), channel="cash", idempotency_key="seed", actor=admin)
    # 8 threads x 20 charges of ¥3.00 = ¥480 wanted, ¥100 available: exactly 33 succeed.
    jobs = [
        [
            (
                lambda t=t, n=n: services.meal_charge(
                    student=student, amount=Money(300), idempotency_key=f"t{t}-{n}", campus=student.campus
                )
            )
            for n in range(20)
        ]
        for t in range(THREADS)
    ]
    outcomes = _in_threads(jobs)
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds["error"] == 0, [o for o in outcomes if o[0] == "error"]
    assert kinds["ok"] == 33
    assert kinds["insufficient"] == THREADS * 20 - 33
    assert balance_of(student=student) == Money(10_000 - 33 * 300)
    assert_books_balance()


def test_charges_top_ups_and_duplicates_race_on_many_wallets(world):
    admin = User.objects.create_superuser("conc-admin2", password="x")
    students = world.students[:4]
    guardian = students[0].guardian_links.get().guardian  # siblings: transfers are allowed
    for sibling in students[1:]:
        GuardianLink.objects.create(guardian=guardian, student=sibling, relation=Relation.FATHER)
    for s in students:
        services.top_up(student=s, amount=Money(2_000), channel="cash", idempotency_key=f"seed-{s.pk}", actor=admin)
    jobs = []
    for t in range(THREADS):
        job_list = []
        for n in range(15):
            s = students[(t // 2 + n) % len(students)]
            # Every charge key is sent by two threads at once (t and t^1): only one may count.
            key = f"meal-{t // 2}-{n}"
            job_list.append(
                lambda s=s, key=key: services.meal_charge(
                    student=s, amount=Money(450), idempotency_key=key, campus=s.campus
                )
            )
            if n % 3 == 0:
                job_list.append(
                    lambda s=s, t=t, n=n: services.top_up(
                        student=s, amount=Money(500), channel="online", idempotency_key=f"top-{t}-{n}", actor=admin
                    )
                )
            if n % 5 == 0:
                other = students[(t // 2 + n + 1) % len(students)]
                job_list.append(
                    lambda s=s, other=other, t=t, n=n: services.transfer(
                        from_student=s,
                        to_student=other,
                        amount=Money(100),
                        actor=admin,
                        idempotency_key=f"tr-{t}-{n}",
                    )
                )
        jobs.append(job_list)
    outcomes = _in_threads(jobs)
    assert [o for o in outcomes if o[0] == "error"] == []
    # Duplicated keys resolved to one posting each.
    charged = Posting.objects.filter(kind="meal_charge")
    assert charged.count() == len(set(charged.values_list("idempotency_key", flat=True)))
    ok_ids = [p.pk for kind, p in outcomes if kind == "ok" and p.kind == "meal_charge"]
    assert set(ok_ids) == set(charged.values_list("pk", flat=True))
    for s in students:
        assert balance_of(student=s).fen >= 0
    assert_books_balance()
