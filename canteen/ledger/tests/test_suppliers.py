"""Procurement records supplier invoices and pays them through the ledger."""

import uuid

import pytest

from canteen.core.models import AuditEvent
from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.errors import InsufficientFunds
from canteen.ledger.models import Account
from canteen.org.choices import Role

from .helpers import assert_books_balance

pytestmark = pytest.mark.django_db


def test_an_invoice_then_its_payment_clears_the_payable(world):
    campus = world.campuses[0]
    actor = world.user(Role.STOREKEEPER)
    supplier = uuid.uuid4()
    services.supplier_invoice_record(
        supplier_id=supplier,
        supplier_name="荆州蔬菜公司",
        campus=campus,
        amount=Money(123456),
        reference="INV-1",
        idempotency_key="inv-1",
        actor=actor,
    )
    services.supplier_payment(
        supplier_id=supplier,
        supplier_name="荆州蔬菜公司",
        campus=campus,
        amount=Money(123456),
        reference="PAY-1",
        idempotency_key="pay-1",
        actor=actor,
    )
    payable = Account.objects.get(code=f"payable:{campus.pk}:{supplier}")
    assert payable.balance_fen == 0
    assert Account.objects.get(code=f"food_cost:{campus.pk}").shown_fen == 123456
    assert AuditEvent.objects.filter(action="ledger.supplier_payment").count() == 1
    assert_books_balance()


def test_paying_more_than_was_invoiced_is_refused(world):
    campus = world.campuses[0]
    supplier = uuid.uuid4()
    services.supplier_invoice_record(
        supplier_id=supplier,
        supplier_name="S",
        campus=campus,
        amount=Money(100),
        reference="INV-1",
        idempotency_key="inv-1",
        actor=None,
    )
    with pytest.raises(InsufficientFunds):
        services.supplier_payment(
            supplier_id=supplier,
            supplier_name="S",
            campus=campus,
            amount=Money(101),
            reference="PAY-1",
            idempotency_key="pay-1",
            actor=None,
        )
    assert_books_balance()
