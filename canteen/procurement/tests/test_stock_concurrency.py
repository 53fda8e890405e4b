"""Two storekeepers issue the same goods at once: the batch locks queue them, so stock never
goes below zero and exactly one of two over-large requests succeeds."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from canteen.org.choices import Role
from canteen.procurement import services
from canteen.procurement.errors import InsufficientStock
from canteen.procurement.models import Batch, StockMovement

from .factories import batch_line, make_confirmed_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_issues_do_not_oversell(proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "30")])
    line = order.lines.get()
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=order,
        lines=[batch_line(line, "15", number="A"), batch_line(line, "15", number="B")],
    )
    store = proc.user(Role.STOREKEEPER)
    services.delivery_accept(
        actor=store, delivery=delivery, decisions=[{"line": dl, "result": "accept"} for dl in delivery.lines.all()]
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def issue() -> None:
        try:
            barrier.wait()
            services.stock_issue(
                actor=store,
                campus=proc.world.campuses[0],
                item=proc.cabbage,
                quantity="20",
                day=timezone.localdate(),
                meal_kind="lunch",
            )
            outcomes.append("ok")
        except InsufficientStock:
            outcomes.append("short")
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok", "short"]
    assert sum(b.on_hand for b in Batch.objects.all()) == 10
    assert StockMovement.objects.filter(kind="issue").count() == 2  # 15 from one batch + 5 from the other
    assert all(b.on_hand >= 0 for b in Batch.objects.all())
