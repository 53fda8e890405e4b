"""The supplier delivers batches; the storekeeper checks each line (进货查验): accept, partly
accept or reject with a reason. Accepted goods enter stock; the order advances; trace and
supervision hear about it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from canteen.core.errors import InvalidTransition, ValidationFailed
from canteen.core.models import OutboxEvent
from canteen.org.choices import Role
from canteen.procurement import selectors, services
from canteen.procurement.choices import BatchStatus, DeliveryStatus, OrderStatus
from canteen.procurement.errors import AcceptanceRefused, NotPermitted, TraceDataMissing
from canteen.procurement.models import AcceptanceCheck, Batch, StockMovement
from canteen.procurement.services import DELIVERY_MOVES, LineDecision, add_months

from .factories import batch_line, make_confirmed_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped(proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "40"), (proc.pork, "12")])
    cabbage_line = order.lines.get(item=proc.cabbage)
    pork_line = order.lines.get(item=proc.pork)
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=order,
        lines=[
            batch_line(
                cabbage_line,
                "40",
                number="BC-1101",
                quick_tests=[{"test": "pesticide_residue", "value": "12.1", "unit": "%", "passed": True}],
            ),
            batch_line(pork_line, "12", number="PK-1101"),
        ],
        vehicle_plate="鄂D·12345",
    )
    return order, delivery


def _line(delivery, item):
    return delivery.lines.get(item=item)


def test_full_acceptance_receives_stock_and_publishes(proc, shipped):
    order, delivery = shipped
    store = proc.user(Role.STOREKEEPER)
    services.delivery_arrive(actor=store, delivery=delivery, temperature_c="4.5")
    services.delivery_accept(
        actor=store,
        delivery=delivery,
        decisions=[
            LineDecision(line=_line(delivery, proc.cabbage), result="accept"),
            {"line": str(_line(delivery, proc.pork).pk), "result": "accept", "temperature_c": "3.2"},
        ],
    )
    delivery.refresh_from_db()
    order.refresh_from_db()
    assert delivery.status == DeliveryStatus.ACCEPTED
    assert delivery.accepted_fen == 40 * 250 + 12 * 2600
    assert order.status == OrderStatus.DELIVERED
    assert list(delivery.history.values_list("to_status", flat=True)) == ["dispatched", "arrived", "accepted"]
    pork = Batch.objects.get(batch_number="PK-1101")
    assert pork.on_hand == Decimal("12")
    assert pork.arrival_temperature_c == Decimal("3.2")
    assert StockMovement.objects.filter(kind="receipt").count() == 2

    events = {e.topic: e.payload for e in OutboxEvent.objects.filter(topic__startswith="procurement.delivery")}
    payload = events["procurement.delivery_accepted"]
    assert payload["accepted_fen"] == delivery.accepted_fen
    assert payload["rejected_lines"] == []
    assert payload["district_id"] == str(proc.world.districts[0].pk)
    assert payload["school_id"] == str(proc.world.campuses[0].school_id)
    batch_events = OutboxEvent.objects.filter(topic="procurement.batch_accepted")
    assert {e.payload["batch_number"] for e in batch_events} == {"BC-1101", "PK-1101"}

    # The inspection record keeps the legal fields, and for the legal time.
    check = AcceptanceCheck.objects.get(batch=pork)
    assert check.record["supplier_uscc"] == proc.supplier.uscc
    assert check.record["production_date"] == str(pork.production_date)
    assert check.retain_until == add_months(pork.expires_on, 6)
    detail = selectors.batch_detail(batch_id=pork.pk)
    assert detail["acceptance"]["result"] == "accept"
    assert "checked_by" not in str(detail)  # no personal data for the public trace page


def test_partial_acceptance_and_a_second_delivery(proc, shipped):
    order, delivery = shipped
    store = proc.user(Role.STOREKEEPER)
    with pytest.raises(ValidationFailed):  # a partial acceptance needs a reason
        services.delivery_accept(
            actor=store,
            delivery=delivery,
            decisions=[
                {"line": _line(delivery, proc.cabbage), "result": "partial", "accepted_quantity": "30"},
                {"line": _line(delivery, proc.pork), "result": "accept"},
            ],
        )
    services.delivery_accept(
        actor=store,
        delivery=delivery,
        decisions=[
            {
                "line": _line(delivery, proc.cabbage),
                "result": "partial",
                "accepted_quantity": "30",
                "reason": "10 kg 外叶腐烂",
            },
            {"line": _line(delivery, proc.pork), "result": "accept"},
        ],
    )
    delivery.refresh_from_db()
    order.refresh_from_db()
    assert delivery.status == DeliveryStatus.PARTIALLY_ACCEPTED
    assert delivery.accepted_fen == 30 * 250 + 12 * 2600
    assert order.status == OrderStatus.PARTIALLY_DELIVERED
    cabbage = Batch.objects.get(batch_number="BC-1101")
    assert (cabbage.status, cabbage.accepted_quantity, cabbage.on_hand) == (
        BatchStatus.PARTIALLY_ACCEPTED,
        Decimal("30"),
        Decimal("30"),
    )
    assert cabbage.acceptance.rejected_quantity == Decimal("10")
    payload = OutboxEvent.objects.get(topic="procurement.delivery_accepted").payload
    assert [(r["item"], r["rejected_quantity"], r["reason"]) for r in payload["rejected_lines"]] == [
        ("大白菜", "10.000", "10 kg 外叶腐烂")
    ]
    # The supplier makes up the shortfall; more than what remains is refused.
    line = order.lines.get(item=proc.cabbage)
    supplier_user = proc.user(Role.SUPPLIER_USER)
    with pytest.raises(ValidationFailed):
        services.delivery_dispatch(actor=supplier_user, order=order, lines=[batch_line(line, "11", number="BC-2")])
    second = services.delivery_dispatch(actor=supplier_user, order=order, lines=[batch_line(line, "10", number="BC-2")])
    services.delivery_accept(actor=store, delivery=second, decisions=[{"line": second.lines.get(), "result": "accept"}])
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    services.order_close(actor=proc.user(Role.CANTEEN_MANAGER), order=order)


def test_rejecting_everything(proc, shipped):
    order, delivery = shipped
    services.delivery_accept(
        actor=proc.user(Role.STOREKEEPER),
        delivery=delivery,
        decisions=[
            {"line": _line(delivery, proc.cabbage), "result": "reject", "reason": "农残超标"},
            {"line": _line(delivery, proc.pork), "result": "reject", "reason": "无检疫证明"},
        ],
    )
    delivery.refresh_from_db()
    order.refresh_from_db()
    assert delivery.status == DeliveryStatus.REJECTED
    assert delivery.accepted_fen == 0
    assert order.status == OrderStatus.CONFIRMED  # still waiting for good goods
    assert not StockMovement.objects.exists()
    assert not OutboxEvent.objects.filter(topic="procurement.batch_accepted").exists()
    payload = OutboxEvent.objects.get(topic="procurement.delivery_rejected").payload
    assert len(payload["rejected_lines"]) == 2
    assert payload["lines"] == []


def test_delivery_state_machine_refuses_second_acceptance(proc, shipped):
    _, delivery = shipped
    store = proc.user(Role.STOREKEEPER)
    decisions = [
        {"line": _line(delivery, proc.cabbage), "result": "accept"},
        {"line": _line(delivery, proc.pork), "result": "accept"},
    ]
    services.delivery_accept(actor=store, delivery=delivery, decisions=decisions)
    with pytest.raises(InvalidTransition):
        services.delivery_accept(actor=store, delivery=delivery, decisions=decisions)
    with pytest.raises(InvalidTransition):
        services.delivery_arrive(actor=store, delivery=delivery)
    assert StockMovement.objects.count() == 2
    assert DELIVERY_MOVES[DeliveryStatus.ACCEPTED] == frozenset()


def test_every_line_needs_a_decision_and_only_the_campus_store_decides(proc, shipped):
    _, delivery = shipped
    with pytest.raises(ValidationFailed) as exc:
        services.delivery_accept(
            actor=proc.user(Role.STOREKEEPER),
            delivery=delivery,
            decisions=[{"line": _line(delivery, proc.cabbage), "result": "accept"}],
        )
    assert exc.value.details["missing"] == ["猪肉（后腿）"]
    with pytest.raises(NotPermitted):
        services.delivery_accept(
            actor=proc.user(Role.SUPPLIER_USER),
            delivery=delivery,
            decisions=[{"line": line, "result": "accept"} for line in delivery.lines.all()],
        )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DISPATCHED


def test_batch_without_trace_data_cannot_be_accepted(proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.rice, "2")])
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER), order=order, lines=[batch_line(order.lines.get(), "2")]
    )
    # A batch that lost its report (dispatch now requires one: a batch of older data).
    Batch.objects.filter(delivery_line__delivery=delivery).update(qc_report="")
    store = proc.user(Role.STOREKEEPER)
    with pytest.raises(TraceDataMissing) as exc:
        services.delivery_accept(
            actor=store, delivery=delivery, decisions=[{"line": delivery.lines.get(), "result": "accept"}]
        )
    assert exc.value.details["missing"] == ["qc_report"]
    # The supplier uploads the report; now it can be accepted.
    from .factories import qc_pdf

    services.batch_attach_qc_report(
        actor=proc.user(Role.SUPPLIER_USER), batch=delivery.lines.get().batch, upload=qc_pdf()
    )
    services.delivery_accept(
        actor=store, delivery=delivery, decisions=[{"line": delivery.lines.get(), "result": "accept"}]
    )
    assert Batch.objects.get().status == BatchStatus.ACCEPTED


def test_warm_meat_failed_quick_test_and_expired_goods_can_only_be_rejected(proc, shipped):
    _, delivery = shipped
    store = proc.user(Role.STOREKEEPER)
    with pytest.raises(AcceptanceRefused) as exc:
        services.delivery_accept(
            actor=store,
            delivery=delivery,
            decisions=[
                {
                    "line": _line(delivery, proc.cabbage),
                    "result": "accept",
                    "quick_tests": [{"test": "pesticide_residue", "value": "62", "unit": "%", "passed": False}],
                },
                {"line": _line(delivery, proc.pork), "result": "accept", "temperature_c": "14"},
            ],
        )
    assert {(r["item"], tuple(r["problems"])) for r in exc.value.details["lines"]} == {
        ("大白菜", ("quick_test_failed",)),
        ("猪肉（后腿）", ("temperature",)),
    }
    with pytest.raises(AcceptanceRefused) as exc:
        services.delivery_accept(
            actor=store,
            delivery=delivery,
            decisions=[
                {"line": _line(delivery, proc.cabbage), "result": "accept"},
                {
                    "line": _line(delivery, proc.pork),
                    "result": "partial",
                    "accepted_quantity": "5",
                    "reason": "x",
                    "temperature_c": "14",
                },
            ],
        )
    assert exc.value.details["problems"] == ["temperature"]
    assert not AcceptanceCheck.objects.exists()  # nothing half-written

    old = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "1")])
    expired = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=old,
        lines=[batch_line(old.lines.get(), "1", produced=timezone.localdate() - timedelta(days=9))],
    )
    with pytest.raises(AcceptanceRefused) as exc:
        services.delivery_accept(
            actor=store, delivery=expired, decisions=[{"line": expired.lines.get(), "result": "accept"}]
        )
    assert exc.value.details["problems"] == ["expired"]


def test_supplier_sees_only_its_deliveries(proc, shipped):
    _, delivery = shipped
    assert list(selectors.delivery_list(actor=proc.user(Role.SUPPLIER_USER))) == [delivery]
    assert list(selectors.delivery_list(actor=proc.user(Role.STOREKEEPER))) == [delivery]
    assert list(selectors.delivery_list(actor=proc.user(Role.GUARDIAN))) == []


def test_delivery_transition_accepts_exactly_the_declared_moves(proc, shipped):
    from django.db import transaction

    from canteen.procurement.models import Delivery

    _, delivery = shipped
    for from_status in DeliveryStatus.values:
        for to_status in DeliveryStatus.values:
            Delivery.objects.filter(pk=delivery.pk).update(status=from_status)
            delivery.refresh_from_db()
            allowed = to_status in DELIVERY_MOVES[from_status]
            try:
                with transaction.atomic():
                    services.delivery_transition(delivery=delivery, to_status=to_status, actor=None)
                    assert delivery.history.last().to_status == to_status
                    raise RuntimeError("rollback")
            except InvalidTransition:
                assert not allowed, (from_status, to_status)
            except RuntimeError:
                assert allowed, (from_status, to_status)
