"""Provider notifications in: verified on the raw body and headers, recorded (every one, as
evidence for reconciliation), and acted on exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canteen.core.errors import DomainError

from ..models import ProviderNotification
from . import alipay, wechat
from .crediting import topup_order_credit
from .errors import NotificationRefused, UnknownOrder
from .models import Merchant


@dataclass(frozen=True)
class Outcome:
    ok: bool
    outcome: str
    message: str = ""


def _record(provider: str, body: dict[str, Any], signature_ok: bool, outcome: str) -> None:
    ProviderNotification.objects.create(provider=provider, body=body, signature_ok=signature_ok, outcome=outcome[:40])


def _evidence(resource: Mapping[str, Any]) -> dict[str, Any]:
    # The payer's openid stays out of the evidence table: it identifies a parent.
    return {k: v for k, v in resource.items() if k != "payer"}


def wechat_notification_handle(*, merchant_id: Any, raw_body: bytes, headers: Mapping[str, str]) -> Outcome:
    """A WeChat Pay notification (payment or refund). Returns what to acknowledge: ok for done and
    duplicates; not ok (WeChat redelivers) for anything refused."""
    from .refunds import refund_settle

    merchant = Merchant.objects.filter(pk=merchant_id, provider=wechat.NAME).first()
    if merchant is None:
        _record(wechat.NAME, {"merchant_id": str(merchant_id)}, False, "unknown_merchant")
        return Outcome(False, "unknown_merchant", "unknown merchant")
    try:
        callback = wechat.parse_callback(merchant=merchant, raw_body=raw_body, headers=headers)
    except NotificationRefused as exc:
        _record(wechat.NAME, {"raw": raw_body[:2000].decode("utf-8", "replace")}, False, exc.code)
        return Outcome(False, exc.code, exc.message_en)
    resource = callback.resource
    evidence = {"id": callback.notification_id, "event_type": callback.event_type, **_evidence(resource)}
    mchid = str(resource.get("sp_mchid") or resource.get("mchid") or "")
    if mchid != merchant.mch_id or (
        merchant.sub_mch_id and resource.get("sub_mchid") not in (None, merchant.sub_mch_id)
    ):
        _record(wechat.NAME, evidence, True, "wrong_merchant")
        return Outcome(False, "wrong_merchant", "the notification names another merchant")
    try:
        if callback.event_type.startswith("REFUND."):
            result = refund_settle(
                provider=wechat.NAME,
                out_refund_no=str(resource.get("out_refund_no", "")),
                status=str(resource.get("refund_status", "")),
                refund_id=str(resource.get("refund_id", "")),
                amount_fen=(resource.get("amount") or {}).get("refund"),
                source="notification",
            )
            _record(wechat.NAME, evidence, True, f"refund_{result}")
            return Outcome(True, f"refund_{result}")
        state = wechat.payment_state_of(resource)
        if state.state != "SUCCESS":
            _record(wechat.NAME, evidence, True, f"ignored_{state.state.lower()}")
            return Outcome(True, "ignored")
        credit = topup_order_credit(
            provider=wechat.NAME,
            out_trade_no=state.out_trade_no,
            txn_id=state.txn_id,
            amount_fen=state.amount_fen,
            paid_at=state.paid_at,
            source="notification",
        )
    except (NotificationRefused, UnknownOrder) as exc:
        _record(wechat.NAME, evidence, True, exc.code)
        return Outcome(False, exc.code, exc.message_en)
    except DomainError as exc:  # e.g. the wallet closed meanwhile: left for reconciliation
        _record(wechat.NAME, evidence, True, exc.code)
        return Outcome(False, exc.code, exc.message_en)
    outcome = "duplicate" if credit.duplicate else "posted"
    _record(wechat.NAME, evidence, True, outcome)
    return Outcome(True, outcome)


def alipay_notification_handle(*, merchant_id: Any, raw_body: bytes, headers: Mapping[str, str]) -> Outcome:
    """An Alipay asynchronous notification: a payment (trade_status TRADE_SUCCESS/FINISHED) or,
    with out_biz_no and refund_fee, a refund of the trade."""
    from canteen.core.money import Money

    from .refunds import refund_settle

    merchant = Merchant.objects.filter(pk=merchant_id, provider=alipay.NAME).first()
    if merchant is None:
        _record(alipay.NAME, {"merchant_id": str(merchant_id)}, False, "unknown_merchant")
        return Outcome(False, "unknown_merchant", "unknown merchant")
    try:
        params = alipay.parse_callback(merchant=merchant, raw_body=raw_body, headers=headers)
    except NotificationRefused as exc:
        _record(alipay.NAME, {"raw": raw_body[:2000].decode("utf-8", "replace")}, False, exc.code)
        return Outcome(False, exc.code, exc.message_en)
    evidence = {k: v for k, v in params.items() if k not in ("buyer_id", "buyer_logon_id", "buyer_open_id")}
    try:
        if params.get("out_biz_no") and params.get("refund_fee"):
            result = refund_settle(
                provider=alipay.NAME,
                out_refund_no=params["out_biz_no"],
                status="SUCCESS",
                refund_id=params.get("trade_no", ""),
                amount_fen=None,  # refund_fee is the trade's refunded total, not this refund's
                source="notification",
            )
            _record(alipay.NAME, evidence, True, f"refund_{result}")
            return Outcome(True, f"refund_{result}")
        if params.get("trade_status") not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            _record(alipay.NAME, evidence, True, f"ignored_{params.get('trade_status', '').lower()}")
            return Outcome(True, "ignored")
        try:
            fen = Money.from_yuan(params.get("total_amount", "")).fen
        except (ValueError, TypeError):
            fen = None
        credit = topup_order_credit(
            provider=alipay.NAME,
            out_trade_no=params.get("out_trade_no", ""),
            txn_id=params.get("trade_no", ""),
            amount_fen=fen,
            source="notification",
        )
    except DomainError as exc:
        _record(alipay.NAME, evidence, True, exc.code)
        return Outcome(False, exc.code, exc.message_en)
    outcome = "duplicate" if credit.duplicate else "posted"
    _record(alipay.NAME, evidence, True, outcome)
    return Outcome(True, outcome)
