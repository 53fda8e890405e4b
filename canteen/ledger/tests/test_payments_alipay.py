"""A parent tops up through Alipay (phone website). The unchanged python-alipay-sdk signs its
calls (RSA2) to a local gateway that verifies them and signs its answers; notifications are
verified form posts. Same cases as WeChat Pay: every one ends with the books balanced and
nothing credited twice."""

import datetime as dt
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from django.utils import timezone

from canteen.core.money import Money
from canteen.ledger.choices import PostingKind
from canteen.ledger.models import Posting, ProviderNotification
from canteen.ledger.payments.bills import provider_reconcile_day, reconciliation_item_fix
from canteen.ledger.payments.orders import topup_order_sync, topup_payment_start
from canteen.ledger.payments.refunds import topup_refund_request
from canteen.ledger.payments.testing.wechat_server import CST, _rsa_key
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Role

from .helpers import assert_books_balance

pytestmark = pytest.mark.django_db


def start(world, fen=3_000, trade_type="wap"):
    return topup_payment_start(
        student=world.students[0],
        amount=Money(fen),
        actor=world.user(Role.GUARDIAN),
        provider="alipay",
        trade_type=trade_type,
    )


def open_cashier(order):
    """The payer's browser opens the signed cashier URL (the gateway checks the RSA2 signature)."""
    page = requests.get(order.pay_payload["pay_url"], timeout=10)
    assert page.status_code == 200
    assert "alipay-confirm" in page.text, page.text[:300]
    return page


def post(client, merchant, params):
    return client.post(
        f"/ledger/pay/alipay/{merchant.pk}/notify/", urlencode(params), content_type="application/x-www-form-urlencoded"
    )


def test_a_phone_website_payment_is_signed_paid_and_notified_once(world, alipay_pay, client):
    order = start(world)
    assert urlsplit(order.pay_payload["pay_url"]).path == "/gateway.do"
    signed = dict(parse_qsl(urlsplit(order.pay_payload["pay_url"]).query))
    assert (signed["method"], signed["sign_type"]) == ("alipay.trade.wap.pay", "RSA2")
    open_cashier(order)
    note = alipay_pay.gateway.pay(order.out_trade_no)
    first = post(client, alipay_pay.merchant, note)
    assert (first.status_code, first.content) == (200, b"success")
    assert post(client, alipay_pay.merchant, note).content == b"success"  # redelivered
    assert balance_of(student=world.students[0]) == Money(3_000)
    assert list(ProviderNotification.objects.order_by("id").values_list("outcome", flat=True)) == [
        "posted",
        "duplicate",
    ]
    order.refresh_from_db()
    assert order.status == "paid"
    assert Posting.objects.filter(kind=PostingKind.TOP_UP, reference=order.provider_txn_id).count() == 1
    assert_books_balance()


def test_forged_stale_wrong_amount_and_unknown_order_notifications_are_refused(world, alipay_pay, client):
    gateway = alipay_pay.gateway
    order = start(world)
    open_cashier(order)
    gateway.pay(order.out_trade_no)
    trade = gateway.trades[order.out_trade_no]
    forged = gateway.notification(trade, key=_rsa_key())
    tampered = dict(gateway.notification(trade), total_amount="3000.00")
    stale = gateway.notification(trade, notify_time=dt.datetime.now(CST) - dt.timedelta(minutes=10))
    cheaper = gateway.notification(trade, total_amount="0.01")
    unknown = gateway.notification(trade, out_trade_no="CT20261208NOSUCH")
    for params in (forged, tampered, stale, cheaper, unknown):
        assert post(client, alipay_pay.merchant, params).content == b"failure"
    assert list(ProviderNotification.objects.order_by("id").values_list("outcome", flat=True)) == [
        "bad_signature",
        "bad_signature",
        "stale_notification",
        "amount_differs",
        "unknown_order",
    ]
    assert balance_of(student=world.students[0]) == Money(0)
    order = topup_order_sync(order=order)  # the query credits the real payment
    assert order.status == "paid"
    assert post(client, alipay_pay.merchant, gateway.notification(trade)).content == b"success"  # late: duplicate
    assert balance_of(student=world.students[0]) == Money(3_000)
    assert_books_balance()


def test_unpaid_orders_are_closed_and_the_gateway_down_is_survived(world, alipay_pay):
    never_opened = start(world)
    opened = start(world)
    open_cashier(opened)
    past = timezone.now() - dt.timedelta(hours=1)
    type(opened).objects.update(expires_at=past)
    assert topup_order_sync(order=type(opened).objects.get(pk=opened.pk)).status == "closed"
    assert alipay_pay.gateway.trades[opened.out_trade_no].status == "TRADE_CLOSED"
    assert topup_order_sync(order=type(opened).objects.get(pk=never_opened.pk)).status == "closed"
    alipay_pay.gateway.down = True
    fresh = start(world)  # a signed URL needs no call: the order is made
    from canteen.ledger.payments.errors import ProviderUnavailable

    with pytest.raises(ProviderUnavailable):
        topup_order_sync(order=fresh)
    fresh.refresh_from_db()
    assert fresh.status == "created"


def test_refunds_and_the_zipped_bill_reconciled(world, alipay_pay, client):
    gateway = alipay_pay.gateway
    order = start(world, 5_000)
    open_cashier(order)
    post(client, alipay_pay.merchant, gateway.pay(order.out_trade_no))
    order.refresh_from_db()
    refund = topup_refund_request(order=order, amount=Money(2_000), actor=None, reason="作废", idempotency_key="a1")
    assert refund.status == "succeeded"  # Alipay refunds synchronously
    note = gateway.notification(gateway.trades[order.out_trade_no], refund_no=refund.out_refund_no)
    assert post(client, alipay_pay.merchant, note).content == b"success"
    assert ProviderNotification.objects.order_by("-id").first().outcome == "refund_duplicate"
    lost = start(world, 1_500)
    open_cashier(lost)
    gateway.pay(lost.out_trade_no)  # notification lost
    rec = provider_reconcile_day(merchant=alipay_pay.merchant, day=timezone.localdate(), actor=None)
    assert (rec.rows, rec.matched) == (3, 2)
    item = rec.items.get()
    assert (item.kind, item.bill_fen) == ("paid_not_credited", 1_500)
    reconciliation_item_fix(item=item, action="credit", actor=world.user(Role.SCHOOL_ADMIN), reason="账单有此笔")
    assert balance_of(student=world.students[0]) == Money(4_500)
    assert_books_balance()
