"""One contract every real provider module (canteen.ledger.payments.channels) keeps, run against
each one's local server: start, parse_callback on the raw body, acknowledge, query, close,
refund, refund_query and the day's bill mean the same thing whichever provider it is."""

from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from canteen.core.money import Money
from canteen.ledger.models import TopUpOrder
from canteen.ledger.payments.channels import REAL, impl
from canteen.ledger.payments.errors import NotificationRefused
from canteen.ledger.payments.models import TopUpRefund
from canteen.ledger.payments.orders import topup_payment_start
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(params=REAL)
def provider(request):
    if request.param == "wechat":
        env = request.getfixturevalue("wechat_pay")

        def pay(order):
            note = env.server.pay(order.out_trade_no)
            return note.body, note.headers

        return SimpleNamespace(
            name="wechat",
            merchant=env.merchant,
            trade_type="h5",
            pay=pay,
            tamper=lambda raw: raw.replace(b'"summary": "', b'"summary": "X'),
        )
    env = request.getfixturevalue("alipay_pay")

    def pay(order):
        import requests

        requests.get(order.pay_payload["pay_url"], timeout=10)  # the payer opens the cashier
        params = env.gateway.pay(order.out_trade_no)
        return urlencode(params).encode(), {"Content-Type": "application/x-www-form-urlencoded"}

    return SimpleNamespace(
        name="alipay",
        merchant=env.merchant,
        trade_type="wap",
        pay=pay,
        tamper=lambda raw: raw.replace(b"total_amount=12.34", b"total_amount=99.34"),
    )


def test_every_provider_keeps_the_contract(world, provider):
    module = impl(provider.name)
    order = topup_payment_start(
        student=world.students[0],
        amount=Money(1_234),
        actor=world.user(Role.GUARDIAN),
        provider=provider.name,
        trade_type=provider.trade_type,
    )
    assert order.pay_payload  # what the payer's page needs
    raw, headers = provider.pay(order)

    parsed = module.parse_callback(merchant=provider.merchant, raw_body=raw, headers=headers)
    assert parsed  # verified on the raw body
    tampered = provider.tamper(raw)
    assert tampered != raw
    with pytest.raises(NotificationRefused):
        module.parse_callback(merchant=provider.merchant, raw_body=tampered, headers=headers)
    ok, fail = module.acknowledge(True), module.acknowledge(False, "x")
    assert ok != fail
    assert ok[0] in (200, 204)

    state = module.query(order=order, merchant=provider.merchant)
    assert (state.state, state.amount_fen, state.out_trade_no) == ("SUCCESS", 1_234, order.out_trade_no)
    assert state.txn_id

    TopUpOrder.objects.filter(pk=order.pk).update(status="paid", provider_txn_id=state.txn_id)
    order.refresh_from_db()
    refund = TopUpRefund.objects.create(
        order=order,
        out_refund_no=f"RFCONTRACT{provider.name}",
        idempotency_key=f"contract:{provider.name}",
        amount_fen=234,
        student=order.student,
        campus_id=order.campus_id,
        school_id=order.school_id,
        district_id=order.district_id,
    )
    answer = module.refund(refund=refund, merchant=provider.merchant)
    assert answer["status"] in ("SUCCESS", "PROCESSING")
    assert module.refund_query(refund=refund, merchant=provider.merchant)["status"] in ("SUCCESS", "PROCESSING")

    unpaid = topup_payment_start(
        student=world.students[0],
        amount=Money(500),
        actor=world.user(Role.GUARDIAN),
        provider=provider.name,
        trade_type=provider.trade_type,
    )
    assert module.close(order=unpaid, merchant=provider.merchant) is True
    assert module.query(order=unpaid, merchant=provider.merchant).state in ("CLOSED", "ORDER_NOT_EXIST")

    bill = module.trade_bill(merchant=provider.merchant, day=timezone.localdate())
    assert order.out_trade_no in bill
