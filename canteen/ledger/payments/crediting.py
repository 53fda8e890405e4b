"""The one place where a provider's word that an order is paid becomes a posting, whoever
brings it: the notification, a query after a late or lost one, or finance staff fixing a
reconciliation mismatch. The order row is locked; the posting's idempotency key is the
provider's transaction id, so whichever comes first credits and the others find it done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from canteen.core.events import publish
from canteen.core.money import Money

from .. import services
from ..choices import Channel, TopUpOrderStatus
from ..models import Account, Posting, TopUpOrder
from .errors import NotificationRefused, UnknownOrder

TOPUP_CREDITED = "ledger.topup_credited"


@dataclass(frozen=True)
class Credit:
    order: TopUpOrder
    posting: Posting
    duplicate: bool


def topup_order_credit(
    *,
    provider: str,
    out_trade_no: str,
    txn_id: str,
    amount_fen: int | None,
    paid_at: datetime | None = None,
    source: str,
    actor: Any = None,
) -> Credit:
    """Credit a paid order once. Refuses an unknown order, an amount other than the order's, and
    a second, different transaction for an order already paid (each left for reconciliation)."""
    if not txn_id:
        raise NotificationRefused("缺少交易号", "The payment has no transaction id", code="txn_missing")
    with transaction.atomic():
        order = (
            TopUpOrder.objects.select_for_update()
            .select_related("student")
            .filter(out_trade_no=out_trade_no, provider=provider)
            .first()
        )
        if order is None:
            raise UnknownOrder(details={"out_trade_no": out_trade_no})
        if amount_fen != order.amount_fen:
            raise NotificationRefused(
                "支付金额与订单不符",
                "The amount paid differs from the order",
                code="amount_differs",
                details={"out_trade_no": out_trade_no, "paid_fen": amount_fen, "order_fen": order.amount_fen},
            )
        if order.status == TopUpOrderStatus.PAID:
            if order.provider_txn_id != txn_id:
                raise NotificationRefused(
                    "该订单已由另一笔交易支付",
                    "The order was already paid by another transaction",
                    code="second_transaction",
                    details={"out_trade_no": out_trade_no},
                )
            return Credit(order=order, posting=order.posting, duplicate=True)
        # Created, failed at creation (a timeout may still have reached the provider) or closed
        # here after the payer paid: the payer's money was taken, so it is credited.
        posting = services.top_up(
            student=order.student,
            amount=Money(order.amount_fen),
            channel=Channel.ONLINE,
            idempotency_key=f"{provider}:{txn_id}",
            actor=actor if actor is not None else order.guardian_user,
            provider_ref=txn_id,
        )
        TopUpOrder.objects.filter(pk=order.pk).update(
            status=TopUpOrderStatus.PAID,
            provider_txn_id=txn_id,
            posting=posting,
            paid_at=paid_at or timezone.now(),
            updated_at=timezone.now(),
        )
        wallet_id, balance = Account.objects.values_list("pk", "balance_fen").get(code=f"wallet:{order.student_id}")
        publish(
            TOPUP_CREDITED,
            {
                "order_id": str(order.pk),
                "wallet_id": str(wallet_id),
                "student_id": str(order.student_id),
                "campus_id": str(order.campus_id),
                "amount_fen": order.amount_fen,
                "balance_fen": balance,
                "channel": provider,
                "source": source,
            },
        )
        order.refresh_from_db()
    return Credit(order=order, posting=posting, duplicate=False)
