"""WeChat Pay API v3 through the `wechatpayv3` SDK, unchanged: its gateway (a fixed attribute,
`_core._gate_way`) is the one thing set from CANTEEN_WECHATPAY_BASE_URL. The platform's answers
and notifications are verified with the WeChat Pay public key (public-key mode, so the client
needs no certificate download when it is built)."""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone
from wechatpayv3 import WeChatPay, WeChatPayType

from ..choices import MerchantMode, TradeType
from ..models import TopUpOrder
from .errors import NotificationRefused, ProviderUnavailable
from .merchants import notify_url, wechat_credentials
from .models import Merchant, TopUpRefund

NAME = "wechat"
_clients: dict[tuple[Any, Any], WeChatPay] = {}
_clients_lock = threading.Lock()
PAY_TYPES = {
    TradeType.JSAPI: WeChatPayType.JSAPI,
    TradeType.NATIVE: WeChatPayType.NATIVE,
    TradeType.H5: WeChatPayType.H5,
}


@dataclass(frozen=True)
class PaymentState:
    """What the provider says about an order (a notification's resource or a query's answer)."""

    out_trade_no: str
    state: str  # SUCCESS, NOTPAY, CLOSED, REFUND, PAYERROR, USERPAYING, REVOKED; ORDER_NOT_EXIST
    txn_id: str = ""
    amount_fen: int | None = None
    paid_at: datetime | None = None
    mchid: str = ""
    sub_mchid: str = ""


def client(merchant: Merchant) -> WeChatPay:
    key = (merchant.pk, merchant.updated_at)
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            creds = wechat_credentials(merchant)
            found = WeChatPay(
                wechatpay_type=WeChatPayType.NATIVE,
                mchid=merchant.mch_id,
                private_key=creds.private_key,
                cert_serial_no=creds.cert_serial_no,
                appid=merchant.app_id,
                apiv3_key=creds.apiv3_key,
                notify_url=notify_url(merchant),
                partner_mode=merchant.mode == MerchantMode.PARTNER,
                timeout=(3, 10),
                public_key=creds.public_key,
                public_key_id=creds.public_key_id,
            )
            found._core._gate_way = settings.CANTEEN_WECHATPAY_BASE_URL.rstrip("/")
            _clients[key] = found
    return found


def clear_clients() -> None:
    with _clients_lock:
        _clients.clear()


def _call(what: str, func: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
    """One SDK call; a network failure or an answer that fails its signature check is the
    provider being unavailable (nothing we can act on)."""
    try:
        return func(*args, **kwargs)
    except requests.RequestException as exc:
        raise ProviderUnavailable(details={"call": what, "error": type(exc).__name__}) from exc
    except Exception as exc:  # the SDK raises bare Exception for a bad answer signature
        raise ProviderUnavailable(details={"call": what, "error": str(exc)[:120]}) from exc


def _json(text: Any) -> dict[str, Any]:
    try:
        return json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}


def _sub(merchant: Merchant) -> dict[str, str]:
    return {"sub_mchid": merchant.sub_mch_id} if merchant.mode == MerchantMode.PARTNER else {}


def start(
    *, order: TopUpOrder, merchant: Merchant, trade_type: str, openid: str = "", client_ip: str = ""
) -> dict[str, Any]:
    """Create the order at WeChat Pay; returns what the payer's page needs (no secrets)."""
    wxpay = client(merchant)
    kwargs: dict[str, Any] = {
        "description": f"数字食堂充值 {order.out_trade_no[-8:]}",
        "out_trade_no": order.out_trade_no,
        "amount": {"total": order.amount_fen, "currency": "CNY"},
        "pay_type": PAY_TYPES[trade_type],
        **_sub(merchant),
    }
    if order.expires_at:
        kwargs["time_expire"] = timezone.localtime(order.expires_at).replace(microsecond=0).isoformat()
    if merchant.mode == MerchantMode.PARTNER and merchant.sub_app_id:
        kwargs["sub_appid"] = merchant.sub_app_id
    if trade_type == TradeType.JSAPI:
        if not openid:
            raise NotificationRefused("请在微信中打开", "Open this page inside WeChat", code="openid_missing")
        payer_key = "sub_openid" if merchant.mode == MerchantMode.PARTNER and merchant.sub_app_id else "openid"
        if merchant.mode == MerchantMode.PARTNER and not merchant.sub_app_id:
            payer_key = "sp_openid"
        kwargs["payer"] = {payer_key: openid}
    if trade_type == TradeType.H5:
        kwargs["scene_info"] = {"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
    code, text = _call("pay", wxpay.pay, **kwargs)
    body = _json(text)
    if code != 200:
        raise ProviderUnavailable(details={"call": "pay", "status": code, "code": body.get("code", "")})
    if trade_type == TradeType.JSAPI:
        appid = merchant.sub_app_id or merchant.app_id
        stamp, nonce = str(int(time.time())), secrets.token_hex(16)
        package = f"prepay_id={body['prepay_id']}"
        return {
            "appId": appid,
            "timeStamp": stamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": wxpay.sign([appid, stamp, nonce, package]),
        }
    if trade_type == TradeType.NATIVE:
        return {"code_url": body["code_url"]}
    return {"h5_url": body["h5_url"]}


def _state(body: Mapping[str, Any]) -> PaymentState:
    paid_at = None
    if body.get("success_time"):
        try:
            paid_at = datetime.fromisoformat(body["success_time"])
        except ValueError:
            paid_at = None
    amount = body.get("amount") or {}
    return PaymentState(
        out_trade_no=str(body.get("out_trade_no", "")),
        state=str(body.get("trade_state", "")),
        txn_id=str(body.get("transaction_id", "")),
        amount_fen=amount.get("total") if isinstance(amount.get("total"), int) else None,
        paid_at=paid_at,
        mchid=str(body.get("sp_mchid") or body.get("mchid") or ""),
        sub_mchid=str(body.get("sub_mchid", "")),
    )


def query(*, order: TopUpOrder, merchant: Merchant) -> PaymentState:
    wxpay = client(merchant)
    kwargs: dict[str, Any] = {"out_trade_no": order.out_trade_no, **_sub(merchant)}
    code, text = _call("query", wxpay.query, **kwargs)
    body = _json(text)
    if code == 404 and body.get("code") == "ORDER_NOT_EXIST":
        return PaymentState(out_trade_no=order.out_trade_no, state="ORDER_NOT_EXIST")
    if code != 200:
        raise ProviderUnavailable(details={"call": "query", "status": code, "code": body.get("code", "")})
    return _state(body)


def close(*, order: TopUpOrder, merchant: Merchant) -> bool:
    """Close an unpaid order; False when WeChat says it was paid meanwhile (query it)."""
    code, text = _call("close", client(merchant).close, out_trade_no=order.out_trade_no, **_sub(merchant))
    if code in (200, 204):
        return True
    body = _json(text)
    if body.get("code") == "ORDERPAID":
        return False
    if code == 404:
        return True  # never created there: nothing to close
    raise ProviderUnavailable(details={"call": "close", "status": code, "code": body.get("code", "")})


def refund(*, refund: TopUpRefund, merchant: Merchant) -> dict[str, Any]:
    order = refund.order
    code, text = _call(
        "refund",
        client(merchant).refund,
        out_refund_no=refund.out_refund_no,
        amount={"refund": refund.amount_fen, "total": order.amount_fen, "currency": "CNY"},
        transaction_id=order.provider_txn_id or None,
        out_trade_no=None if order.provider_txn_id else order.out_trade_no,
        reason=(refund.reason or "退款")[:80],
        **_sub(merchant),
    )
    body = _json(text)
    if code != 200:
        raise ProviderUnavailable(details={"call": "refund", "status": code, "code": body.get("code", "")})
    return body


def refund_query(*, refund: TopUpRefund, merchant: Merchant) -> dict[str, Any]:
    code, text = _call(
        "query_refund", client(merchant).query_refund, out_refund_no=refund.out_refund_no, **_sub(merchant)
    )
    body = _json(text)
    if code != 200:
        raise ProviderUnavailable(details={"call": "query_refund", "status": code, "code": body.get("code", "")})
    return body


def trade_bill(*, merchant: Merchant, day: date) -> str:
    """The day's trade bill (ALL), downloaded and un-gzipped; its hash checked."""
    import hashlib

    wxpay = client(merchant)
    kwargs = {"sub_mchid": merchant.sub_mch_id} if merchant.mode == MerchantMode.PARTNER else {}
    code, text = _call(
        "trade_bill", wxpay.trade_bill, bill_date=day.isoformat(), bill_type="ALL", tar_type="GZIP", **kwargs
    )
    body = _json(text)
    if code != 200:
        raise ProviderUnavailable(details={"call": "trade_bill", "status": code, "code": body.get("code", "")})
    code, content = _call("download_bill", wxpay.download_bill, body["download_url"])
    if code != 200 or not isinstance(content, bytes):
        raise ProviderUnavailable(details={"call": "download_bill", "status": code})
    raw = gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content
    if hashlib.sha1(raw).hexdigest() != body.get("hash_value"):  # noqa: S324 (the documented hash)
        raise ProviderUnavailable("账单校验失败", "The bill's hash does not match", details={"call": "download_bill"})
    return raw.decode("utf-8-sig")


@dataclass(frozen=True)
class Callback:
    event_type: str
    notification_id: str
    resource: dict[str, Any]


def parse_callback(*, merchant: Merchant, raw_body: bytes, headers: Mapping[str, str]) -> Callback:
    """Verify (clock-skew window, then RSA-SHA256 over timestamp\\nnonce\\nbody\\n with the platform
    key) and decrypt (AEAD_AES_256_GCM with the APIv3 key) one notification. The RAW body: a
    parsed and re-serialized dict would not verify."""
    try:
        stamp = int(headers.get("Wechatpay-Timestamp", ""))
    except ValueError:
        raise NotificationRefused(code="bad_signature") from None
    skew = settings.CANTEEN_PAYMENT_CLOCK_SKEW_S
    if abs(time.time() - stamp) > skew:
        raise NotificationRefused(
            "通知已过期", "The notification is outside the time window", code="stale_notification"
        )
    try:
        result = client(merchant).callback(headers=dict(headers), body=raw_body)
    except Exception:  # the SDK raises bare Exception for an unknown signature type/algorithm
        result = None
    if not result or not isinstance(result.get("resource"), dict):
        raise NotificationRefused("通知签名无效", "The notification's signature is invalid", code="bad_signature")
    return Callback(
        event_type=str(result.get("event_type", "")),
        notification_id=str(result.get("id", "")),
        resource=result["resource"],
    )


def acknowledge(ok: bool, message: str = "") -> tuple[int, dict[str, str] | None]:
    """WeChat Pay v3: 200/204 with no body is success; a 4xx/5xx with code FAIL makes it redeliver."""
    if ok:
        return 204, None
    return 400, {"code": "FAIL", "message": message[:100] or "失败"}


def payment_state_of(resource: Mapping[str, Any]) -> PaymentState:
    return _state(resource)
