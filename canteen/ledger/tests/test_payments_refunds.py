"""Family money goes back to the WeChat account it came from: full and partial, idempotent,
never the subsidy, closed by the provider's refund notification in whatever order it comes."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from canteen.core.models import OutboxEvent
from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.choices import PostingKind
from canteen.ledger.models import Posting
from canteen.ledger.payments.errors import RefundRefused
from canteen.ledger.payments.notifications import wechat_notification_handle
from canteen.ledger.payments.orders import topup_payment_start
from canteen.ledger.payments.refunds import (
    family_refundable_fen,
    refunds_for_leaving,
    refunds_sweep,
    topup_refund_request,
)
from canteen.ledger.selectors import balance_of
from canteen.ledger.subsidies import allowance_balance
from canteen.org.choices import Role

from .helpers import assert_books_balance
from .test_payments_wechat import post

pytestmark = pytest.mark.django_db


def paid_order(world, wechat_pay, client, fen=10_000):
    order = topup_payment_start(
        student=world.students[0],
        amount=Money(fen),
        actor=world.user(Role.GUARDIAN),
        provider="wechat",
        trade_type="h5",
    )
    assert post(client, wechat_pay.merchant, wechat_pay.server.pay(order.out_trade_no)).status_code == 204
    order.refresh_from_db()
    return order


def test_a_partial_then_full_refund_closed_by_the_refund_notification(world, wechat_pay, client):
    order = paid_order(world, wechat_pay, client)
    staff = world.user(Role.SCHOOL_ADMIN)
    refund = topup_refund_request(
        order=order, amount=Money(3_000), actor=staff, reason="餐次作废", idempotency_key="r1"
    )
    assert refund.status == "processing"  # WeChat answered PROCESSING
    assert balance_of(student=world.students[0]) == Money(7_000)  # held in refunds due meanwhile
    again = topup_refund_request(order=order, amount=Money(3_000), actor=staff, reason="餐次作废", idempotency_key="r1")
    assert again.pk == refund.pk  # idempotent
    note = wechat_pay.server.finish_refund(refund.out_refund_no)
    assert post(client, wechat_pay.merchant, note).status_code == 204
    assert post(client, wechat_pay.merchant, note).status_code == 204  # redelivered
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert Posting.objects.filter(kind=PostingKind.REFUND_PAID, reference=refund.out_refund_no).count() == 1
    event = OutboxEvent.objects.get(topic="ledger.refund_succeeded")
    assert event.payload == {
        "refund_id": str(refund.pk),
        "order_id": str(order.pk),
        "student_id": str(world.students[0].pk),
        "campus_id": str(world.students[0].campus_id),
        "amount_fen": 3_000,
        "channel": "wechat",
    }
    rest = topup_refund_request(order=order, amount=Money(7_000), actor=staff, reason="转学", idempotency_key="r2")
    with pytest.raises(RefundRefused):
        topup_refund_request(order=order, amount=Money(1), actor=staff, reason="多退", idempotency_key="r3")
    post(client, wechat_pay.merchant, wechat_pay.server.finish_refund(rest.out_refund_no))
    rest.refresh_from_db()
    assert rest.status == "succeeded"
    assert balance_of(student=world.students[0]) == Money(0)
    order.refresh_from_db()
    assert order.refunded_fen == 10_000
    assert_books_balance()


def test_a_failed_refund_gives_the_money_back_to_the_wallet(world, wechat_pay, client):
    order = paid_order(world, wechat_pay, client)
    refund = topup_refund_request(order=order, amount=Money(4_000), actor=None, reason="x", idempotency_key="f1")
    post(client, wechat_pay.merchant, wechat_pay.server.finish_refund(refund.out_refund_no, status="ABNORMAL"))
    refund.refresh_from_db()
    assert refund.status == "failed"
    assert balance_of(student=world.students[0]) == Money(10_000)
    order.refresh_from_db()
    assert order.refunded_fen == 0
    assert_books_balance()


def test_subsidy_money_is_never_refunded_as_cash(world, wechat_pay, client):
    order = paid_order(world, wechat_pay, client, fen=2_000)
    services.subsidy_grant(student=world.students[0], amount=Money(500), day=timezone.localdate())
    assert balance_of(student=world.students[0]) == Money(2_000)  # the subsidy is in the allowance
    assert allowance_balance(student=world.students[0]) == Money(500)
    assert family_refundable_fen(student=world.students[0]) == 2_000
    with pytest.raises(RefundRefused) as refused:
        topup_refund_request(order=order, amount=Money(2_001), actor=None, reason="x", idempotency_key="s1")
    assert refused.value.code == "refund_too_large"
    # The leaving pupil's refund takes the family share only; the subsidy stays in the books.
    refunds = refunds_for_leaving(student=world.students[0], actor=None, reason="转学", idempotency_key="leave:1")
    assert [r.amount_fen for r in refunds] == [2_000]
    assert balance_of(student=world.students[0]) == Money(0)
    assert allowance_balance(student=world.students[0]) == Money(500)
    assert (
        refunds_for_leaving(student=world.students[0], actor=None, reason="转学", idempotency_key="leave:1")[0].pk
        == refunds[0].pk
    )
    assert_books_balance()


def test_a_refund_sent_while_the_provider_is_down_is_resent_by_the_sweep(world, wechat_pay, client):
    order = paid_order(world, wechat_pay, client)
    wechat_pay.server.down = True
    refund = topup_refund_request(order=order, amount=Money(1_000), actor=None, reason="x", idempotency_key="d1")
    assert refund.status == "requested"
    wechat_pay.server.down = False
    assert refunds_sweep()["resent"] == 1
    wechat_pay.server.finish_refund(refund.out_refund_no)  # notification lost
    assert refunds_sweep()["settled"] == 1  # the query closes it
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_the_refund_notification_arrives_before_the_refund_request_returns(world, wechat_pay, client):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL")
    order = paid_order(world, wechat_pay, client)
    outcomes = []

    def notify_first(refund):
        # WeChat's notification reaches us (another process) while our request still waits.
        note = wechat_pay.server.finish_refund(refund.out_refund_no)

        def deliver():
            try:
                outcomes.append(
                    wechat_notification_handle(
                        merchant_id=wechat_pay.merchant.pk, raw_body=note.body, headers=note.headers
                    )
                )
            finally:
                connection.close()

        thread = threading.Thread(target=deliver)
        thread.start()
        thread.join()

    wechat_pay.server.on_refund_request = notify_first
    refund = topup_refund_request(order=order, amount=Money(6_000), actor=None, reason="x", idempotency_key="n1")
    assert [o.outcome for o in outcomes] == ["refund_succeeded"]
    assert refund.status == "succeeded"  # the late answer (SUCCESS) found it closed: no second posting
    assert Posting.objects.filter(kind=PostingKind.REFUND_PAID).count() == 1
    assert balance_of(student=world.students[0]) == Money(4_000)
    assert_books_balance()


def test_a_leaver_gets_online_money_back_through_wechat_after_commit_and_the_subsidy_goes_to_its_fund(
    world, wechat_pay, client, django_capture_on_commit_callbacks
):
    """The pupil-leaving flow (org.life.student_leave): family money paid through WeChat is
    refunded to the payer once the leaving is committed (a rolled-back leaving must never have
    sent money), and the unspent subsidy goes back to its fund, never to the family."""
    from datetime import date

    from canteen.ledger.models import Account
    from canteen.ledger.payments.models import TopUpRefund
    from canteen.org import life

    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[0]
    order = paid_order(world, wechat_pay, client, fen=6_000)
    services.subsidy_grant(student=pupil, amount=Money(800), day=date(2026, 12, 1))
    services.meal_charge(student=pupil, amount=Money(500), idempotency_key="m-leave", campus=pupil.campus, actor=admin)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        life.student_leave(actor=admin, student=pupil, reason="转学")
    refund = TopUpRefund.objects.get(order=order)
    assert refund.amount_fen == 6_000  # the meal was paid from the subsidy first
    assert refund.status == "requested"
    assert wechat_pay.server.refunds == {}  # nothing reached the provider before the commit
    for callback in callbacks:
        callback()
    refund.refresh_from_db()
    assert refund.status == "processing"
    assert post(client, wechat_pay.merchant, wechat_pay.server.finish_refund(refund.out_refund_no)).status_code == 204
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert Account.objects.get(code=f"wallet:{pupil.pk}").balance_fen == 0
    assert Account.objects.get(code=f"allowance:{pupil.pk}").balance_fen == 0
    returned = Posting.objects.get(kind=PostingKind.SUBSIDY_RETURN, student=pupil)
    assert returned.amount_fen == 300
    assert_books_balance()


def test_a_meal_voided_after_payment_goes_back_across_the_newest_top_ups(world, wechat_pay, client):
    from canteen.ledger.payments.refunds import refunds_to_channel

    older = paid_order(world, wechat_pay, client, fen=1_000)
    newer = paid_order(world, wechat_pay, client, fen=500)
    refunds = refunds_to_channel(
        student=world.students[0], amount=Money(800), actor=None, reason="餐次作废", idempotency_key="void:m1"
    )
    assert [(r.order_id, r.amount_fen) for r in refunds] == [(newer.pk, 500), (older.pk, 300)]
    again = refunds_to_channel(
        student=world.students[0], amount=Money(800), actor=None, reason="餐次作废", idempotency_key="void:m1"
    )
    assert [r.pk for r in again] == [r.pk for r in refunds]
    with pytest.raises(RefundRefused):
        refunds_to_channel(
            student=world.students[0], amount=Money(701), actor=None, reason="x", idempotency_key="void:m2"
        )
    assert balance_of(student=world.students[0]) == Money(700)
    assert_books_balance()
