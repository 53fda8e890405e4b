"""A parent tops up through WeChat Pay (API v3). The unchanged wechatpayv3 SDK talks to a local
server speaking the v3 protocol (signed requests and answers, encrypted notifications); every
case ends with the books balanced, the order in the right state and nothing credited twice."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from canteen.core.models import OutboxEvent
from canteen.core.money import Money
from canteen.ledger.choices import PostingKind
from canteen.ledger.models import Posting, ProviderNotification, TopUpOrder
from canteen.ledger.payments.errors import ProviderUnavailable
from canteen.ledger.payments.notifications import wechat_notification_handle
from canteen.ledger.payments.orders import topup_order_sync, topup_orders_sweep, topup_payment_start
from canteen.ledger.payments.testing.wechat_server import _rsa_key
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Role

from .helpers import assert_books_balance

pytestmark = pytest.mark.django_db


def start(world, trade_type="h5", fen=5_000, **kwargs):
    return topup_payment_start(
        student=world.students[0],
        amount=Money(fen),
        actor=world.user(Role.GUARDIAN),
        provider="wechat",
        trade_type=trade_type,
        **kwargs,
    )


def post(client, merchant, note):
    return client.generic(
        "POST",
        f"/ledger/pay/wechat/{merchant.pk}/notify/",
        note.body,
        content_type="application/json",
        headers=note.headers,
    )


def credited_once(order):
    """Nothing credited twice: one top-up posting for the order's transaction."""
    assert Posting.objects.filter(kind=PostingKind.TOP_UP, reference=order.provider_txn_id).count() == 1
    assert_books_balance()


def test_an_h5_payment_is_created_signed_paid_and_notified(world, wechat_pay, client):
    order = start(world)
    assert order.status == "created"
    assert order.pay_payload["h5_url"].startswith(wechat_pay.server.base_url)
    assert ("POST", "/v3/pay/transactions/h5") in wechat_pay.server.requests
    note = wechat_pay.server.pay(order.out_trade_no)
    response = post(client, wechat_pay.merchant, note)
    assert response.status_code == 204
    order.refresh_from_db()
    assert order.status == "paid"
    assert balance_of(student=world.students[0]) == Money(5_000)
    event = OutboxEvent.objects.get(topic="ledger.topup_credited")
    assert event.payload["amount_fen"] == 5_000
    assert event.payload["balance_fen"] == 5_000
    assert event.payload["order_id"] == str(order.pk)
    assert event.payload["channel"] == "wechat"
    record = ProviderNotification.objects.get()
    assert (record.signature_ok, record.outcome) == (True, "posted")
    assert "payer" not in record.body  # the parent's openid is not kept
    credited_once(order)


def test_native_and_jsapi_orders_give_what_the_payer_needs(world, wechat_pay):
    native = start(world, "native")
    assert native.pay_payload["code_url"].startswith("weixin://wxpay/bizpayurl")
    jsapi = start(world, "jsapi", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    params = jsapi.pay_payload
    assert params["package"].startswith("prepay_id=wx")
    assert params["signType"] == "RSA"
    # paySign is the merchant key's RSA-SHA256 over appId, timeStamp, nonceStr, package.
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    message = "\n".join([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]) + "\n"
    wechat_pay.server.merchant_cert.public_key().verify(
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert wechat_pay.server.orders[jsapi.out_trade_no].payer_openid == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def test_a_notification_delivered_twice_credits_once(world, wechat_pay, client):
    order = start(world)
    note = wechat_pay.server.pay(order.out_trade_no)
    assert post(client, wechat_pay.merchant, note).status_code == 204
    assert post(client, wechat_pay.merchant, note).status_code == 204  # WeChat redelivers: still success
    assert balance_of(student=world.students[0]) == Money(5_000)
    assert list(ProviderNotification.objects.order_by("id").values_list("outcome", flat=True)) == [
        "posted",
        "duplicate",
    ]
    assert OutboxEvent.objects.filter(topic="ledger.topup_credited").count() == 1
    order.refresh_from_db()
    credited_once(order)


def test_a_late_notification_after_the_query_credited_finds_it_done(world, wechat_pay, client):
    order = start(world)
    note = wechat_pay.server.pay(order.out_trade_no)  # paid; the notification is held back
    order = topup_order_sync(order=order)  # the parent's page polls: the query credits
    assert order.status == "paid"
    assert post(client, wechat_pay.merchant, note).status_code == 204
    assert ProviderNotification.objects.get().outcome == "duplicate"
    assert balance_of(student=world.students[0]) == Money(5_000)
    credited_once(order)


def test_a_forged_notification_is_refused_and_kept(world, wechat_pay, client):
    order = start(world)
    server = wechat_pay.server
    server.pay(order.out_trade_no)
    forged = server.notification(
        server.orders[order.out_trade_no].notify_url,
        "TRANSACTION.SUCCESS",
        "transaction",
        server.transaction_json(server.orders[order.out_trade_no]),
        "支付成功",
        key=_rsa_key(),  # not the platform's key
    )
    response = post(client, wechat_pay.merchant, forged)
    assert response.status_code == 400
    assert response.json()["code"] == "FAIL"
    # A genuine notification with its body altered after signing.
    genuine = server.pay(order.out_trade_no)
    tampered = type(genuine)(genuine.url, genuine.headers, genuine.body.replace(b'"summary"', b'"summarY"'))
    assert post(client, wechat_pay.merchant, tampered).status_code == 400
    assert list(ProviderNotification.objects.values_list("signature_ok", "outcome")) == [
        (False, "bad_signature"),
        (False, "bad_signature"),
    ]
    order.refresh_from_db()
    assert order.status == "created"
    assert balance_of(student=world.students[0]) == Money(0)
    assert_books_balance()


def test_a_notification_replayed_outside_the_time_window_is_refused(world, wechat_pay, client):
    order = start(world)
    server = wechat_pay.server
    server.pay(order.out_trade_no)
    old = server.notification(
        server.orders[order.out_trade_no].notify_url,
        "TRANSACTION.SUCCESS",
        "transaction",
        server.transaction_json(server.orders[order.out_trade_no]),
        "支付成功",
        timestamp=int(time.time()) - 600,  # validly signed, ten minutes old
    )
    assert post(client, wechat_pay.merchant, old).status_code == 400
    assert ProviderNotification.objects.get().outcome == "stale_notification"
    assert balance_of(student=world.students[0]) == Money(0)
    # WeChat's own redelivery is signed afresh and credits.
    assert post(client, wechat_pay.merchant, server.pay(order.out_trade_no)).status_code == 204
    order.refresh_from_db()
    credited_once(order)


def test_a_notification_for_another_amount_or_an_unknown_order_is_refused(world, wechat_pay, client):
    order = start(world)
    server = wechat_pay.server
    server.pay(order.out_trade_no)
    paid = server.transaction_json(server.orders[order.out_trade_no])
    url = server.orders[order.out_trade_no].notify_url
    cheaper = dict(paid, amount={"total": 1, "payer_total": 1, "currency": "CNY", "payer_currency": "CNY"})
    assert (
        post(
            client, wechat_pay.merchant, server.notification(url, "TRANSACTION.SUCCESS", "transaction", cheaper, "")
        ).status_code
        == 400
    )
    unknown = dict(paid, out_trade_no="CT20261208NOSUCHORDER")
    assert (
        post(
            client, wechat_pay.merchant, server.notification(url, "TRANSACTION.SUCCESS", "transaction", unknown, "")
        ).status_code
        == 400
    )
    assert list(ProviderNotification.objects.order_by("id").values_list("outcome", flat=True)) == [
        "amount_differs",
        "unknown_order",
    ]
    order.refresh_from_db()
    assert order.status == "created"
    assert Posting.objects.filter(kind=PostingKind.TOP_UP).count() == 0
    assert_books_balance()


def test_the_provider_down_when_the_order_is_created(world, wechat_pay):
    wechat_pay.server.down = True
    with pytest.raises(ProviderUnavailable):
        start(world)
    order = TopUpOrder.objects.get()
    assert order.status == "failed"
    wechat_pay.server.stop()  # and not answering at all
    with pytest.raises(ProviderUnavailable):
        start(world)
    assert sorted(TopUpOrder.objects.values_list("status", flat=True)) == ["failed", "failed"]
    assert Posting.objects.count() == 0


def test_unpaid_orders_are_closed_after_their_expiry(world, wechat_pay):
    order = start(world)
    paid = start(world, fen=2_000)
    wechat_pay.server.pay(paid.out_trade_no)  # its notification lost
    TopUpOrder.objects.update(
        created_at=timezone.now() - timedelta(hours=1), expires_at=timezone.now() - timedelta(minutes=30)
    )
    counts = topup_orders_sweep()
    assert counts == {"checked": 2, "paid": 1, "closed": 1, "unreachable": 0}
    order.refresh_from_db()
    assert order.status == "closed"
    assert wechat_pay.server.orders[order.out_trade_no].state == "CLOSED"
    paid.refresh_from_db()
    assert paid.status == "paid"
    credited_once(paid)


@pytest.mark.django_db(transaction=True)
def test_a_notification_delivered_concurrently_credits_once(wechat_pay, world):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    order = start(world)
    note = wechat_pay.server.pay(order.out_trade_no)
    results = []

    def deliver():
        try:
            results.append(
                wechat_notification_handle(merchant_id=wechat_pay.merchant.pk, raw_body=note.body, headers=note.headers)
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.ok for r in results)
    assert sorted(r.outcome for r in results) == ["duplicate"] * 7 + ["posted"]
    assert balance_of(student=world.students[0]) == Money(5_000)
    order.refresh_from_db()
    credited_once(order)


def test_the_notification_endpoint_takes_the_raw_body_only(world, wechat_pay, client):
    order = start(world)
    note = wechat_pay.server.pay(order.out_trade_no)
    reformatted = json.dumps(json.loads(note.body), indent=2).encode()  # same data, other bytes
    changed = type(note)(note.url, note.headers, reformatted)
    assert post(client, wechat_pay.merchant, changed).status_code == 400
    assert (
        client.post(
            f"/ledger/pay/wechat/{wechat_pay.merchant.pk}/notify/", data=b"x" * 70_000, content_type="application/json"
        ).status_code
        == 413
    )


def test_the_api_starts_a_wechat_top_up_where_wechat_is_the_provider(world, wechat_pay, api_client):
    api_client.force_authenticate(world.user(Role.GUARDIAN))
    response = api_client.post(
        "/api/v1/ledger/online-top-ups/",
        {"student": str(world.students[0].pk), "amount_fen": 1_000},
        format="json",
        HTTP_IDEMPOTENCY_KEY="api-topup-1",
        HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14) Mobile",
    )
    assert response.status_code == 201, response.content
    order = TopUpOrder.objects.get(out_trade_no=response.json()["out_trade_no"])
    assert (order.provider, order.trade_type) == ("wechat", "h5")
    assert response.json()["pay_url"].endswith(f"/ledger/pay/order/{order.out_trade_no}/")
