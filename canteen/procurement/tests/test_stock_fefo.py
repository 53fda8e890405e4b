"""Goods leave the store first-expiring first, never past their expiry, and each issue says for
which day and meal (and dish) it went to the kitchen: the lineage trace reads."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from canteen.core.errors import ValidationFailed
from canteen.org.choices import Role
from canteen.procurement import selectors, services
from canteen.procurement.errors import InsufficientStock
from canteen.procurement.models import Batch, StockMovement

from .factories import batch_line, make_confirmed_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(proc):
    """Three cabbage batches of 10 kg: produced 3, 1 and 4 days ago (shelf life 5 days)."""
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "30")])
    line = order.lines.get()
    today = timezone.localdate()
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=order,
        lines=[
            batch_line(line, "10", number="MID", produced=today - timedelta(days=3)),
            batch_line(line, "10", number="NEW", produced=today - timedelta(days=1)),
            batch_line(line, "10", number="OLD", produced=today - timedelta(days=4)),
        ],
    )
    services.delivery_accept(
        actor=proc.user(Role.STOREKEEPER),
        delivery=delivery,
        decisions=[{"line": line, "result": "accept"} for line in delivery.lines.all()],
    )
    return {b.batch_number: b for b in Batch.objects.all()}


def _on_hand():
    return {b.batch_number: b.on_hand for b in Batch.objects.all()}


def test_fefo_issue_spans_batches_in_expiry_order(proc, stocked):
    store = proc.user(Role.STOREKEEPER)
    today = timezone.localdate()
    moves = services.stock_issue(
        actor=store,
        campus=proc.world.campuses[0],
        item=proc.cabbage,
        quantity="14",
        day=today,
        meal_kind="lunch",
        dish_name="醋溜白菜",
    )
    assert [(m.batch.batch_number, m.quantity) for m in moves] == [("OLD", Decimal("-10")), ("MID", Decimal("-4"))]
    assert _on_hand() == {"OLD": 0, "MID": 6, "NEW": 10}
    assert len({m.reference for m in moves}) == 1
    # Each batch's on-hand equals the sum of its movements.
    for b in Batch.objects.all():
        assert b.on_hand == StockMovement.objects.filter(batch=b).aggregate(s=Sum("quantity"))["s"]

    issued = selectors.batches_issued(campus=proc.world.campuses[0], day=today, meal_kind="lunch")
    assert {(r["batch_number"], r["quantity"], r["dish_name"]) for r in issued} == {
        ("OLD", Decimal("10"), "醋溜白菜"),
        ("MID", Decimal("4"), "醋溜白菜"),
    }
    assert selectors.batches_issued(campus=proc.world.campuses[0], day=today, meal_kind="dinner") == []
    forward = selectors.issues_of_batch(batch=stocked["OLD"])
    assert [(r["day"], r["meal_kind"], r["campus_id"], r["quantity"]) for r in forward] == [
        (today, "lunch", str(proc.world.campuses[0].pk), Decimal("10"))
    ]


def test_insufficient_stock_issues_nothing(proc, stocked):
    store = proc.user(Role.STOREKEEPER)
    with pytest.raises(InsufficientStock) as exc:
        services.stock_issue(
            actor=store,
            campus=proc.world.campuses[0],
            item=proc.cabbage,
            quantity="30.001",
            day=timezone.localdate(),
            meal_kind="lunch",
        )
    assert exc.value.details["available"] == "30.000"
    assert _on_hand() == {"OLD": 10, "MID": 10, "NEW": 10}
    assert not StockMovement.objects.filter(kind="issue").exists()
    with pytest.raises(ValidationFailed):
        services.stock_issue(
            actor=store,
            campus=proc.world.campuses[0],
            item=proc.cabbage,
            quantity="1",
            day=timezone.localdate(),
            meal_kind="supper",
        )


def test_expired_batches_are_skipped(proc, stocked):
    """Two days on, OLD (produced 4 days ago, 5-day shelf life) has expired: it is not issued."""
    later = timezone.localdate() + timedelta(days=2)
    moves = services.stock_issue(
        actor=proc.user(Role.STOREKEEPER),
        campus=proc.world.campuses[0],
        item=proc.cabbage,
        quantity="12",
        day=later,
        meal_kind="breakfast",
    )
    assert [m.batch.batch_number for m in moves] == ["MID", "NEW"]
    rows = selectors.stock_on_hand(actor=proc.user(Role.STOREKEEPER), on=later)
    assert rows[0]["expired"] == Decimal("10")
    with pytest.raises(InsufficientStock):
        services.stock_issue(
            actor=proc.user(Role.STOREKEEPER),
            campus=proc.world.campuses[0],
            item=proc.cabbage,
            quantity="9",
            day=later,
            meal_kind="lunch",
        )
    services.stock_dispose(actor=proc.user(Role.STOREKEEPER), batch=stocked["OLD"], quantity="10", reason="过期")
    assert _on_hand()["OLD"] == 0


def test_stock_count_books_discrepancies(proc, stocked):
    store = proc.user(Role.STOREKEEPER)
    count = services.stock_count_start(actor=store, campus=proc.world.campuses[0])
    assert count.lines.count() == 3
    services.stock_count_record(actor=store, count=count, batch=stocked["NEW"], counted_quantity="9.5")
    services.stock_count_record(actor=store, count=count, batch=stocked["MID"], counted_quantity="10")
    with pytest.raises(ValidationFailed):  # a discrepancy needs a reason
        services.stock_count_close(actor=store, count=count)
    services.stock_count_record(
        actor=store, count=count, batch=stocked["NEW"], counted_quantity="9.5", reason="称重损耗"
    )
    moves = services.stock_count_close(actor=store, count=count)
    assert [(m.batch.batch_number, m.kind, m.quantity) for m in moves] == [("NEW", "adjustment", Decimal("-0.5"))]
    assert _on_hand() == {"OLD": 10, "MID": 10, "NEW": Decimal("9.5")}
    line = count.lines.get(batch=stocked["NEW"])
    assert line.discrepancy == Decimal("-0.5")
    with pytest.raises(Exception, match="closed"):
        services.stock_count_close(actor=store, count=count)


def test_other_campus_cannot_issue_our_stock(proc, stocked, world):
    from canteen.org.tests.factories import make_user

    other_store = make_user("store-2", Role.STOREKEEPER, campus=world.campuses[1], school=world.campuses[1].school)
    with pytest.raises(InsufficientStock):
        services.stock_issue(
            actor=other_store,
            campus=world.campuses[1],
            item=proc.cabbage,
            quantity="1",
            day=timezone.localdate(),
            meal_kind="lunch",
        )
    with pytest.raises(Exception, match="not allowed"):
        services.stock_issue(
            actor=other_store,
            campus=world.campuses[0],
            item=proc.cabbage,
            quantity="1",
            day=timezone.localdate(),
            meal_kind="lunch",
        )


def test_a_meal_is_issued_all_or_nothing(proc, stocked):
    store = proc.user(Role.STOREKEEPER)
    today = timezone.localdate()
    with pytest.raises(InsufficientStock) as exc:
        services.stock_issue_many(
            actor=store,
            campus=proc.world.campuses[0],
            day=today,
            meal_kind="lunch",
            lines=[
                {"item": proc.cabbage, "quantity": "12", "dish_name": "醋溜白菜"},
                {"item": proc.pork, "quantity": "1", "dish_name": "白菜炒肉"},
            ],
        )
    assert [s["item"] for s in exc.value.details["shortages"]] == ["猪肉（后腿）"]
    assert _on_hand() == {"OLD": 10, "MID": 10, "NEW": 10}  # the cabbage was not issued either
    moves = services.stock_issue_many(
        actor=store,
        campus=proc.world.campuses[0],
        day=today,
        meal_kind="lunch",
        lines=[{"item": proc.cabbage, "quantity": "12", "dish_name": "醋溜白菜"}],
    )
    assert sum(-m.quantity for m in moves) == Decimal("12")
