"""An accepted delivery's cost is booked at acceptance; its invoice is recorded once and matched;
supplier payments go through the ledger too and can never exceed what is payable."""

import pytest

from canteen.core.errors import DomainError, InvalidTransition
from canteen.core.money import Money
from canteen.org.choices import Role
from canteen.procurement import services

from .factories import batch_line, make_confirmed_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def accepted(proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "40")])
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER), order=order, lines=[batch_line(order.lines.get(), "40")]
    )
    return delivery


def test_invoice_recorded_once_and_payment_limited_to_invoices(proc, accepted):
    from canteen.ledger.models import Posting

    manager = proc.user(Role.CANTEEN_MANAGER)
    with pytest.raises(InvalidTransition):  # not yet accepted
        services.delivery_record_invoice(actor=manager, delivery=accepted, reference="INV-1")
    services.delivery_accept(
        actor=proc.user(Role.STOREKEEPER),
        delivery=accepted,
        decisions=[{"line": accepted.lines.get(), "result": "accept"}],
    )
    services.delivery_record_invoice(actor=manager, delivery=accepted, reference="INV-1")
    services.delivery_record_invoice(actor=manager, delivery=accepted, reference="INV-1")  # a retry
    # The cost and the payable were booked at acceptance; the invoice posts nothing more.
    received = Posting.objects.filter(counterparty_id=proc.supplier.pk, kind="goods_received")
    assert received.count() == 1
    assert received.get().amount_fen == 40 * 250
    assert not Posting.objects.filter(kind="supplier_invoice").exists()
    accepted.refresh_from_db()
    assert accepted.invoice_reference == "INV-1"

    campus = proc.world.campuses[0]
    with pytest.raises(DomainError):  # more than payable
        services.supplier_pay(
            actor=manager,
            supplier=proc.supplier,
            campus=campus,
            amount=Money(40 * 250 + 1),
            reference="PAY-X",
            idempotency_key="pay-x",
        )
    services.supplier_pay(
        actor=manager,
        supplier=proc.supplier,
        campus=campus,
        amount=Money(6000),
        reference="PAY-1",
        idempotency_key="pay-1",
    )
    assert Posting.objects.filter(counterparty_id=proc.supplier.pk, kind="supplier_payment").count() == 1
    with pytest.raises(DomainError):
        services.supplier_pay(
            actor=proc.user(Role.SUPPLIER_USER),
            supplier=proc.supplier,
            campus=campus,
            amount=Money(100),
            reference="PAY-2",
            idempotency_key="pay-2",
        )
