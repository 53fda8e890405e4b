"""Food cost booked at acceptance: the payable to the supplier at the accepted quantity and
price, goods returned net it, the invoice is matched three ways (order, receipt, invoice), stock
is valued by batch in issue order, and the cost per meal comes from what the kitchen was issued.
The disclosure's food spending equals the accepted deliveries net of returns (a property test)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canteen.core.money import Money
from canteen.ledger.choices import AccountKind, PostingKind
from canteen.ledger.models import Account, Posting
from canteen.ledger.reports import disclosure_for
from canteen.ledger.tests.helpers import assert_books_balance
from canteen.org.choices import Role
from canteen.procurement import selectors, services
from canteen.procurement.errors import InsufficientStock
from canteen.procurement.models import Delivery

from .factories import batch_line, make_confirmed_order

pytestmark = pytest.mark.django_db


def _deliver(proc, lines, *, number="B1"):
    """Order and dispatch [(item, qty)]; returns the delivery."""
    order = make_confirmed_order(proc.world, proc.supplier, lines)
    by_item = {ol.item_id: ol for ol in order.lines.all()}
    return services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=order,
        lines=[batch_line(by_item[item.pk], qty, number=f"{number}-{n}") for n, (item, qty) in enumerate(lines)],
    )


def _accept(proc, delivery, decisions=None):
    lines = list(delivery.lines.all())
    decisions = decisions or [{"line": line, "result": "accept"} for line in lines]
    return services.delivery_accept(actor=proc.user(Role.STOREKEEPER), delivery=delivery, decisions=decisions)


def _payable(proc, campus):
    account = Account.objects.filter(code=f"payable:{campus.pk}:{proc.supplier.pk}").first()
    return account.balance_fen if account else 0


def test_accepting_books_food_cost_and_the_payable_at_accepted_quantity_and_price(proc):
    delivery = _deliver(proc, [(proc.cabbage, "40"), (proc.pork, "10")])
    cabbage_line = delivery.lines.get(item=proc.cabbage)
    pork_line = delivery.lines.get(item=proc.pork)
    _accept(
        proc,
        delivery,
        [
            {"line": cabbage_line, "result": "partial", "accepted_quantity": "30", "reason": "部分发黄"},
            {"line": pork_line, "result": "accept"},
        ],
    )
    posting = Posting.objects.get(kind=PostingKind.GOODS_RECEIVED)
    assert posting.amount_fen == 30 * 250 + 10 * 2600
    assert posting.counterparty_id == proc.supplier.pk
    assert _payable(proc, delivery.campus) == 30 * 250 + 10 * 2600
    assert_books_balance()


def test_a_rejected_delivery_books_nothing(proc):
    delivery = _deliver(proc, [(proc.cabbage, "40")])
    services.delivery_refuse(actor=proc.user(Role.STOREKEEPER), delivery=delivery, reason="车厢温度过高")
    assert not Posting.objects.filter(kind=PostingKind.GOODS_RECEIVED).exists()


def test_goods_returned_bring_the_cost_and_payable_down_and_never_more_than_on_hand(proc):
    delivery = _deliver(proc, [(proc.cabbage, "40")])
    _accept(proc, delivery)
    batch = delivery.lines.get().batch
    services.batch_return(actor=proc.user(Role.STOREKEEPER), batch=batch, quantity="12.5", reason="发现腐烂")
    returned = Posting.objects.get(kind=PostingKind.GOODS_RETURNED)
    assert returned.amount_fen == 3125
    assert _payable(proc, delivery.campus) == 40 * 250 - 3125
    batch.refresh_from_db()
    assert batch.on_hand == Decimal("27.5")
    with pytest.raises(InsufficientStock):
        services.batch_return(actor=proc.user(Role.STOREKEEPER), batch=batch, quantity="28", reason="x")
    assert Posting.objects.filter(kind=PostingKind.GOODS_RETURNED).count() == 1
    assert_books_balance()


def test_the_invoice_is_matched_against_order_and_receipt_with_differences_listed(proc):
    delivery = _deliver(proc, [(proc.cabbage, "40")])
    line = delivery.lines.get()
    _accept(proc, delivery, [{"line": line, "result": "partial", "accepted_quantity": "36", "reason": "短斤"}])
    services.batch_return(actor=proc.user(Role.STOREKEEPER), batch=line.batch, quantity="2", reason="腐烂")
    manager = proc.user(Role.CANTEEN_MANAGER)
    services.delivery_record_invoice(actor=manager, delivery=delivery, reference="INV-9", amount=Money(10_000))
    delivery.refresh_from_db()
    match = delivery.invoice_match
    assert (match["order_fen"], match["received_fen"], match["returned_fen"]) == (10_000, 9_000, 500)
    kinds = {d["kind"]: d for d in match["differences"]}
    assert kinds["quantity"]["accepted"] == "36.000"
    assert kinds["returned"]["amount_fen"] == 500
    assert kinds["invoice"]["difference_fen"] == 10_000 - 8_500
    assert not Posting.objects.filter(kind=PostingKind.SUPPLIER_INVOICE).exists()


def test_a_matching_invoice_lists_no_difference(proc):
    delivery = _deliver(proc, [(proc.cabbage, "40")])
    _accept(proc, delivery)
    services.delivery_record_invoice(
        actor=proc.user(Role.CANTEEN_MANAGER), delivery=delivery, reference="INV-1", amount=Money(10_000)
    )
    delivery.refresh_from_db()
    assert delivery.invoice_match["differences"] == []
    assert delivery.invoice_amount_fen == 10_000


def test_stock_is_valued_by_batch_in_issue_order_and_cost_per_meal_comes_from_issues(proc):
    campus = proc.world.campuses[0]
    today = timezone.localdate()
    first = _deliver(proc, [(proc.cabbage, "10")], number="OLD")
    _accept(proc, first)
    # A second batch at a new framework price, expiring later: issued after the first.
    from canteen.procurement.models import FrameworkPrice

    FrameworkPrice.objects.filter(item=proc.cabbage).update(price_fen=300)
    second = _deliver(proc, [(proc.cabbage, "10")], number="NEW")
    line = second.lines.get()
    assert line.price_fen == 300
    line.batch.expires_on = line.batch.expires_on + timedelta(days=2)
    line.batch.save(update_fields=["expires_on"])
    _accept(proc, second)
    assert selectors.stock_value_fen(campus_id=campus.pk) == 10 * 250 + 10 * 300
    services.stock_issue(
        actor=proc.user(Role.STOREKEEPER), campus=campus, item=proc.cabbage, quantity="12", day=today, meal_kind="lunch"
    )
    # The first batch (10 at 2.50) went wholly, then 2 of the second (at 3.00).
    assert selectors.issued_cost_fen(campus_ids=[campus.pk], start=today, end=today) == {campus.pk: 2500 + 600}
    assert selectors.stock_value_fen(campus_id=campus.pk) == 8 * 300
    d = disclosure_for(campus=campus, year=today.year, month=today.month)
    assert d.issued_cost_fen == 3100
    assert d.food_cost_fen == 10 * 250 + 10 * 300


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    deliveries=st.lists(
        st.tuples(
            st.sampled_from(["accept", "partial", "reject"]),
            st.integers(min_value=1, max_value=400),  # delivered, in tenths of a unit
            st.integers(min_value=0, max_value=100),  # percent accepted when partial
            st.integers(min_value=0, max_value=100),  # percent of the accepted later returned
            st.booleans(),  # invoiced
        ),
        min_size=1,
        max_size=4,
    )
)
def test_disclosure_food_spending_equals_accepted_deliveries_net_of_returns(proc, deliveries):
    campus = proc.world.campuses[0]
    today = timezone.localdate()
    before = disclosure_for(campus=campus, year=today.year, month=today.month).food_cost_fen
    expected = 0
    for n, (result, tenths, pct, returned_pct, invoiced) in enumerate(deliveries):
        qty = Decimal(tenths) / 10
        delivery = _deliver(proc, [(proc.pork, str(qty))], number=f"P{n}-{tenths}")
        line = delivery.lines.get()
        accepted_qty = (qty * pct / 100).quantize(Decimal("0.001"))
        if result == "partial" and not (0 < accepted_qty < qty):
            result = "accept"
        decision = {"line": line, "result": result}
        if result != "accept":
            decision["reason"] = "抽检"
        if result == "partial":
            decision["accepted_quantity"] = str(accepted_qty)
        _accept(proc, delivery, [decision])
        delivery = Delivery.objects.get(pk=delivery.pk)
        expected += delivery.accepted_fen
        batch = line.batch
        batch.refresh_from_db()
        back = (batch.on_hand * returned_pct / 100).quantize(Decimal("0.001"))
        if back > 0:
            services.batch_return(actor=proc.user(Role.STOREKEEPER), batch=batch, quantity=back, reason="退货")
            expected -= services._amount_fen(back, line.price_fen)
        if invoiced and delivery.accepted_fen:
            services.delivery_record_invoice(
                actor=proc.user(Role.CANTEEN_MANAGER), delivery=delivery, reference=f"INV-{delivery.number}"
            )
    after = disclosure_for(campus=campus, year=today.year, month=today.month)
    assert after.food_cost_fen - before == expected
    payable = Account.objects.get(kind=AccountKind.PAYABLE, campus=campus, owner_id=proc.supplier.pk)
    assert payable.balance_fen == after.food_cost_fen  # nothing paid yet: all of it is owed
    assert_books_balance()


def test_the_acceptance_page_records_an_invoice_and_shows_the_differences(proc, client):
    delivery = _deliver(proc, [(proc.cabbage, "40")])
    _accept(proc, delivery)
    client.force_login(proc.user(Role.CANTEEN_MANAGER))
    bad = client.post(f"/procurement/deliveries/{delivery.pk}/invoice/", {"reference": "INV-2", "amount": "abc"})
    assert bad.status_code == 302
    delivery.refresh_from_db()
    assert delivery.invoice_reference == ""  # nothing recorded from a bad amount
    client.post(f"/procurement/deliveries/{delivery.pk}/invoice/", {"reference": "INV-2", "amount": "101.50"})
    delivery.refresh_from_db()
    assert (delivery.invoice_reference, delivery.invoice_amount_fen) == ("INV-2", 10_150)
    page = client.get(f"/procurement/deliveries/{delivery.pk}/accept/").content.decode()
    assert 'data-testid="invoice-match"' in page
    assert "发票金额与验收金额不符" in page
