"""A guardian's online top-up at a real provider: create the order here, then at the provider;
bring its state in by query when the notification is late or lost; close it when unpaid past
its expiry."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.money import Money
from canteen.org.models import Student

from .. import services
from ..choices import TopUpOrderStatus, TradeType
from ..models import TopUpOrder
from . import registry
from .channels import REAL, impl
from .crediting import Credit, topup_order_credit
from .errors import ProviderUnavailable, UnknownOrder
from .merchants import merchant_for

log = logging.getLogger("canteen.ledger.payments")


def topup_payment_start(
    *,
    student: Student,
    amount: Money,
    actor: Any,
    provider: str,
    trade_type: str,
    openid: str = "",
    client_ip: str = "",
) -> TopUpOrder:
    """Create the order (committed first, so a notification can never find it missing), then at
    the provider. The provider down: the order is marked failed and the guardian told nothing was
    charged; a later query still credits it if the provider did take the money."""
    if provider == registry.DEMO or not registry.is_registered(provider):
        raise UnknownOrder("未开通该支付渠道", "This payment provider is not available", code="unknown_provider")
    allowed = {"wechat": (TradeType.JSAPI, TradeType.NATIVE, TradeType.H5), "alipay": (TradeType.WAP, TradeType.PAGE)}
    if trade_type not in allowed.get(provider, ()):
        raise UnknownOrder("支付方式无效", "Unknown payment method", code="invalid_trade_type")
    merchant = merchant_for(student=student, provider=provider)
    order = services.topup_order_create(student=student, amount=amount, actor=actor, provider=provider)
    expires = timezone.now() + timedelta(minutes=settings.CANTEEN_PAYMENT_ORDER_EXPIRY_MIN)
    TopUpOrder.objects.filter(pk=order.pk).update(merchant=merchant, trade_type=trade_type, expires_at=expires)
    order.refresh_from_db()
    try:
        payload = impl(provider).start(
            order=order, merchant=merchant, trade_type=trade_type, openid=openid, client_ip=client_ip
        )
    except ProviderUnavailable:
        TopUpOrder.objects.filter(pk=order.pk, status=TopUpOrderStatus.CREATED).update(
            status=TopUpOrderStatus.FAILED, updated_at=timezone.now()
        )
        raise
    TopUpOrder.objects.filter(pk=order.pk).update(pay_payload=payload, updated_at=timezone.now())
    order.refresh_from_db()
    return order


def topup_order_sync(*, order: TopUpOrder, close_expired: bool = True) -> TopUpOrder:
    """Ask the provider about an order not yet paid here: credit it if paid (the notification
    late or lost), close it if unpaid past its expiry."""
    if order.status == TopUpOrderStatus.PAID or order.merchant_id is None or order.provider not in REAL:
        return order
    provider = impl(order.provider)
    state = provider.query(order=order, merchant=order.merchant)
    if state.state in ("SUCCESS", "REFUND"):
        topup_order_credit(
            provider=order.provider,
            out_trade_no=order.out_trade_no,
            txn_id=state.txn_id,
            amount_fen=state.amount_fen,
            paid_at=state.paid_at,
            source="query",
        )
    elif (
        state.state in ("CLOSED", "REVOKED", "PAYERROR", "ORDER_NOT_EXIST") and order.status == TopUpOrderStatus.CREATED
    ):
        _mark_closed(order, reason=state.state)
    elif close_expired and order.expires_at and order.expires_at < timezone.now() and state.state == "NOTPAY":
        if provider.close(order=order, merchant=order.merchant):
            _mark_closed(order, reason="expired")
        else:
            return topup_order_sync(order=order, close_expired=False)
    order.refresh_from_db()
    return order


def _mark_closed(order: TopUpOrder, *, reason: str) -> None:
    with transaction.atomic():
        changed = TopUpOrder.objects.filter(pk=order.pk, status=TopUpOrderStatus.CREATED).update(
            status=TopUpOrderStatus.CLOSED, updated_at=timezone.now()
        )
        if changed:
            audit_record(
                actor=None,
                action="ledger.topup_order_closed",
                target=order,
                before={"status": TopUpOrderStatus.CREATED},
                after={"status": TopUpOrderStatus.CLOSED, "reason": reason},
                district_id=order.district_id,
                school_id=order.school_id,
            )


def topup_orders_sweep(*, older_than_s: int = 60, limit: int = 500) -> dict[str, int]:
    """The worker's sweep: query unpaid orders (created or failed at creation) of real providers
    a minute old or more; credit what was paid, close what expired."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    counts = {"checked": 0, "paid": 0, "closed": 0, "unreachable": 0}
    pending = (
        TopUpOrder.objects.filter(
            status__in=[TopUpOrderStatus.CREATED, TopUpOrderStatus.FAILED],
            merchant__isnull=False,
            created_at__lt=cutoff,
            created_at__gt=timezone.now() - timedelta(days=2),
        )
        .select_related("merchant")
        .order_by("created_at")[:limit]
    )
    for order in pending:
        counts["checked"] += 1
        try:
            after = topup_order_sync(order=order)
        except ProviderUnavailable:
            counts["unreachable"] += 1
            continue
        except Exception:
            log.exception("top-up order sync failed: %s", order.out_trade_no)
            continue
        if after.status == TopUpOrderStatus.PAID:
            counts["paid"] += 1
        elif after.status == TopUpOrderStatus.CLOSED:
            counts["closed"] += 1
    return counts


__all__ = ["Credit", "topup_order_sync", "topup_orders_sweep", "topup_payment_start"]
