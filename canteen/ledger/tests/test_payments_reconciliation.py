"""Finance staff reconcile a day's WeChat Pay bill three ways (bill ↔ orders ↔ postings): each
mismatch is listed with the fix that closes it, and each fix is a posting with audit."""

import gzip
from datetime import timedelta

import pytest
from django.utils import timezone

from canteen.core.errors import ValidationFailed
from canteen.core.models import AuditEvent
from canteen.core.money import Money
from canteen.ledger.choices import PostingKind
from canteen.ledger.models import Posting, Reconciliation
from canteen.ledger.payments import tasks
from canteen.ledger.payments.bills import BillInvalid, parse_wechat_bill, reconciliation_item_fix, wechat_reconcile_day
from canteen.ledger.payments.orders import topup_payment_start
from canteen.ledger.payments.refunds import topup_refund_request
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Role

from .helpers import assert_books_balance
from .test_payments_wechat import post

pytestmark = pytest.mark.django_db


def order(world, fen, student=0):
    return topup_payment_start(
        student=world.students[student],
        amount=Money(fen),
        actor=world.user(Role.GUARDIAN),
        provider="wechat",
        trade_type="native",
    )


def test_the_bill_file_format_is_parsed_and_its_summary_checked(world, wechat_pay, client):
    a = order(world, 1_234)
    post(client, wechat_pay.merchant, wechat_pay.server.pay(a.out_trade_no))
    text = wechat_pay.server.bill_text(timezone.localdate())
    assert text.splitlines()[1].startswith("`")  # backquote-prefixed fields
    rows = parse_wechat_bill(text)
    assert [(r.kind, r.out_trade_no, r.amount_fen) for r in rows] == [("payment", a.out_trade_no, 1_234)]
    lines = text.splitlines()
    with pytest.raises(BillInvalid):  # a line dropped: the summary no longer adds up
        parse_wechat_bill("\n".join([lines[0], *lines[2:]]))
    with pytest.raises(BillInvalid):
        parse_wechat_bill(text.replace("`12.34", "`12.3x", 1))
    with pytest.raises(BillInvalid):
        parse_wechat_bill("not a bill")
    assert gzip.decompress(gzip.compress(text.encode())).decode() == text


def test_a_day_reconciled_three_ways_and_every_mismatch_fixed(world, wechat_pay, client):
    server = wechat_pay.server
    staff = world.user(Role.SCHOOL_ADMIN)
    matched = order(world, 5_000)
    post(client, wechat_pay.merchant, server.pay(matched.out_trade_no))
    lost = order(world, 2_000)
    server.pay(lost.out_trade_no)  # paid; the notification never came, nobody queried
    phantom = order(world, 700)
    post(client, wechat_pay.merchant, server.pay(phantom.out_trade_no))
    del server.orders[phantom.out_trade_no]  # credited here, unknown to the provider's bill
    matched.refresh_from_db()
    refund = topup_refund_request(order=matched, amount=Money(1_000), actor=staff, reason="作废", idempotency_key="k1")
    server.finish_refund(refund.out_refund_no)  # refunded; its notification lost

    rec = wechat_reconcile_day(merchant=wechat_pay.merchant, day=timezone.localdate(), actor=staff)
    assert (rec.rows, rec.matched) == (3, 1)
    items = {item.kind: item for item in rec.items.all()}
    assert sorted(items) == ["credited_not_in_bill", "paid_not_credited", "refund_missing"]
    assert items["paid_not_credited"].bill_fen == 2_000
    assert items["credited_not_in_bill"].ledger_fen == 700
    assert items["refund_missing"].out_refund_no == refund.out_refund_no

    with pytest.raises(ValidationFailed):
        reconciliation_item_fix(item=items["paid_not_credited"], action="credit", actor=staff, reason="")
    with pytest.raises(ValidationFailed):
        reconciliation_item_fix(item=items["paid_not_credited"], action="reverse", actor=staff, reason="x")
    fixed = reconciliation_item_fix(item=items["paid_not_credited"], action="credit", actor=staff, reason="账单有此笔")
    assert fixed.status == "fixed"
    assert fixed.fix_posting.kind == PostingKind.TOP_UP
    # Fixing twice does nothing more.
    reconciliation_item_fix(item=items["paid_not_credited"], action="credit", actor=staff, reason="再点一次")
    reversed_ = reconciliation_item_fix(
        item=items["credited_not_in_bill"], action="reverse", actor=staff, reason="渠道无此交易"
    )
    assert reversed_.fix_posting.reverses_id == items["credited_not_in_bill"].posting_id
    settled = reconciliation_item_fix(
        item=items["refund_missing"], action="settle_refund", actor=staff, reason="账单已退"
    )
    assert settled.fix_posting.kind == PostingKind.REFUND_PAID
    # 50 + 20 + 7 topped up, 7 reversed, 10 refunded.
    assert balance_of(student=world.students[0]) == Money(6_000)
    assert AuditEvent.objects.filter(action="ledger.reconciliation_fix").count() == 3
    assert Posting.objects.filter(kind=PostingKind.TOP_UP, reference=fixed.txn_id).count() == 1
    assert_books_balance()

    again = wechat_reconcile_day(merchant=wechat_pay.merchant, day=timezone.localdate(), actor=staff)
    assert [i.kind for i in again.items.all()] == []  # phantom's credit now reversed: its order is failed
    assert again.matched == 3


def test_a_rerun_supersedes_the_open_items_and_resolve_needs_a_reason(world, wechat_pay, client):
    lost = order(world, 2_000)
    wechat_pay.server.pay(lost.out_trade_no)
    first = wechat_reconcile_day(merchant=wechat_pay.merchant, day=timezone.localdate(), actor=None)
    second = wechat_reconcile_day(merchant=wechat_pay.merchant, day=timezone.localdate(), actor=None)
    assert first.items.get().status == "resolved"
    item = second.items.get()
    assert item.status == "open"
    resolved = reconciliation_item_fix(
        item=item, action="resolve", actor=world.user(Role.SCHOOL_ADMIN), reason="家长已线下退款"
    )
    assert (resolved.status, resolved.fix_posting) == ("resolved", None)


def test_the_morning_job_reconciles_yesterday_once_for_each_merchant(world, wechat_pay, client, monkeypatch):
    monkeypatch.setattr(tasks, "BILL_READY_HOUR", 0)
    a = order(world, 3_000)
    post(client, wechat_pay.merchant, wechat_pay.server.pay(a.out_trade_no))
    yesterday = timezone.localdate() - timedelta(days=1)
    server_order = wechat_pay.server.orders[a.out_trade_no]
    server_order.success_time -= timedelta(days=1)
    type(a).objects.filter(pk=a.pk).update(paid_at=timezone.now() - timedelta(days=1))
    assert tasks.reconcile_yesterday() == "reconciled 1, unavailable 0"
    assert tasks.reconcile_yesterday() == "reconciled 0, unavailable 0"
    rec = Reconciliation.objects.get(merchant=wechat_pay.merchant)
    assert (rec.settlement_date, rec.rows, rec.matched) == (yesterday, 1, 1)


def test_finance_staff_reconcile_and_fix_from_the_page(world, wechat_pay, client):
    lost = order(world, 2_000)
    wechat_pay.server.pay(lost.out_trade_no)
    client.force_login(world.user(Role.SCHOOL_ADMIN))
    page = client.get("/ledger/finance/reconcile/").content.decode()
    assert 'data-testid="provider-day"' in page
    response = client.post(
        "/ledger/finance/reconcile/provider-day/",
        {"merchant": wechat_pay.merchant.pk, "day": timezone.localdate().isoformat()},
    )
    detail = client.get(response["Location"]).content.decode()
    assert "已付款未入账" in detail
    assert "¥20.00" in detail
    rec = Reconciliation.objects.get()
    item = rec.items.get()
    client.post(f"/ledger/finance/reconcile/item/{item.pk}/fix/", {"action": "credit", "reason": "账单有此笔"})
    item.refresh_from_db()
    assert item.status == "fixed"
    assert balance_of(student=world.students[0]) == Money(2_000)
    client.force_login(world.user(Role.GUARDIAN))
    assert (
        client.post(f"/ledger/finance/reconcile/item/{item.pk}/fix/", {"action": "resolve", "reason": "x"}).status_code
        == 403
    )
