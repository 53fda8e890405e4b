"""Alipay through `python-alipay-sdk` (RSA2), unchanged: its gateway (a fixed attribute,
`_gateway`) is set from CANTEEN_ALIPAY_GATEWAY. Phone and PC website payments are signed URLs
the payer's browser opens; query, close, refund and the bill URL are signed gateway calls whose
answers the SDK verifies with Alipay's public key; notifications are form posts verified with it.
Each school is its own Alipay merchant (an app of its own); Alipay's ISV mode is not used."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

import requests
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.conf import settings
from django.utils import timezone

from canteen.core.money import Money

from ..choices import TradeType
from ..models import TopUpOrder
from .errors import MerchantMisconfigured, NotificationRefused, ProviderUnavailable
from .merchants import ALIPAY_FILES, notify_url, read_secret
from .models import Merchant, TopUpRefund
from .wechat import PaymentState

NAME = "alipay"
_clients: dict[tuple[Any, Any], AliPay] = {}
_lock = threading.Lock()
STATES = {"TRADE_SUCCESS": "SUCCESS", "TRADE_FINISHED": "SUCCESS", "WAIT_BUYER_PAY": "NOTPAY", "TRADE_CLOSED": "CLOSED"}


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def client(merchant: Merchant) -> AliPay:
    key = (merchant.pk, merchant.updated_at)
    with _lock:
        found = _clients.get(key)
        if found is None:
            values = {name: read_secret(merchant.credentials_ref, name) for name in ALIPAY_FILES}
            missing = [name for name, value in values.items() if not value]
            if missing:
                raise MerchantMisconfigured(details={"credentials_ref": merchant.credentials_ref, "missing": missing})
            found = AliPay(
                appid=merchant.mch_id,
                app_notify_url=notify_url(merchant),
                app_private_key_string=values["app_private_key.pem"],
                alipay_public_key_string=values["alipay_public_key.pem"],
                sign_type="RSA2",
                config=AliPayConfig(timeout=10),
            )
            found._gateway = settings.CANTEEN_ALIPAY_GATEWAY
            _clients[key] = found
    return found


def clear_clients() -> None:
    with _lock:
        _clients.clear()


def _call(what: str, func: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return func(*args, **kwargs)
    except AliPayValidationError as exc:
        raise ProviderUnavailable(details={"call": what, "error": "answer signature invalid"}) from exc
    except AliPayException as exc:
        raise ProviderUnavailable(details={"call": what, "error": str(exc)[:120]}) from exc
    except OSError as exc:  # urllib: refused, timeout, HTTP error
        raise ProviderUnavailable(details={"call": what, "error": type(exc).__name__}) from exc


def start(
    *, order: TopUpOrder, merchant: Merchant, trade_type: str, openid: str = "", client_ip: str = ""
) -> dict[str, Any]:
    """A signed cashier URL (phone website: wap; PC: page). Nothing is sent until the payer opens it."""
    pay = client(merchant)
    back = settings.CANTEEN_PAYMENT_NOTIFY_BASE.rstrip("/") + f"/ledger/pay/return/{order.out_trade_no}/"
    kwargs: dict[str, Any] = {
        "subject": f"数字食堂充值 {order.out_trade_no[-8:]}",
        "out_trade_no": order.out_trade_no,
        "total_amount": _yuan(order.amount_fen),
        "return_url": back,
    }
    if order.expires_at:
        kwargs["time_expire"] = timezone.localtime(order.expires_at).strftime("%Y-%m-%d %H:%M:%S")
    api = pay.api_alipay_trade_page_pay if trade_type == TradeType.PAGE else pay.api_alipay_trade_wap_pay
    return {"pay_url": f"{pay._gateway}?{api(**kwargs)}"}


def _answer(what: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
    if body.get("code") != "10000" and body.get("sub_code") != "ACQ.TRADE_NOT_EXIST":
        raise ProviderUnavailable(details={"call": what, "code": body.get("code"), "sub_code": body.get("sub_code")})
    return body


def query(*, order: TopUpOrder, merchant: Merchant) -> PaymentState:
    body = _answer("query", _call("query", client(merchant).api_alipay_trade_query, out_trade_no=order.out_trade_no))
    if body.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
        return PaymentState(out_trade_no=order.out_trade_no, state="ORDER_NOT_EXIST")
    paid_at = None
    if body.get("send_pay_date"):
        paid_at = datetime.strptime(body["send_pay_date"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=timezone.get_default_timezone()
        )
    return PaymentState(
        out_trade_no=str(body.get("out_trade_no", "")),
        state=STATES.get(str(body.get("trade_status", "")), str(body.get("trade_status", ""))),
        txn_id=str(body.get("trade_no", "")),
        amount_fen=Money.from_yuan(str(body.get("total_amount", "0"))).fen,
        paid_at=paid_at,
    )


def close(*, order: TopUpOrder, merchant: Merchant) -> bool:
    body = _call("close", client(merchant).api_alipay_trade_close, out_trade_no=order.out_trade_no)
    if body.get("code") == "10000" or body.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
        return True  # closed, or never opened by the payer
    if body.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
        return False  # paid meanwhile: query it
    raise ProviderUnavailable(details={"call": "close", "sub_code": body.get("sub_code")})


def refund(*, refund: TopUpRefund, merchant: Merchant) -> dict[str, Any]:
    """Alipay refunds synchronously: fund_change=Y is done (normalized to WeChat's SUCCESS)."""
    body = _call(
        "refund",
        client(merchant).api_alipay_trade_refund,
        refund_amount=_yuan(refund.amount_fen),
        out_trade_no=refund.order.out_trade_no,
        out_request_no=refund.out_refund_no,
        refund_reason=(refund.reason or "退款")[:80],
    )
    if body.get("code") != "10000":
        raise ProviderUnavailable(details={"call": "refund", "sub_code": body.get("sub_code")})
    return {"status": "SUCCESS", "refund_id": str(body.get("trade_no", "")), "amount": {"refund": refund.amount_fen}}


def refund_query(*, refund: TopUpRefund, merchant: Merchant) -> dict[str, Any]:
    body = _call(
        "refund_query",
        client(merchant).api_alipay_trade_fastpay_refund_query,
        out_request_no=refund.out_refund_no,
        out_trade_no=refund.order.out_trade_no,
    )
    if body.get("code") != "10000":
        raise ProviderUnavailable(details={"call": "refund_query", "sub_code": body.get("sub_code")})
    if body.get("refund_status") == "REFUND_SUCCESS":
        return {"status": "SUCCESS", "amount": {"refund": Money.from_yuan(body["refund_amount"]).fen}}
    return {"status": "PROCESSING"}


def trade_bill(*, merchant: Merchant, day: date) -> str:
    """The day's trade bill: a signed call for its URL, then the zip; the detail CSV (GBK)."""
    body = _call(
        "bill",
        client(merchant).server_api,
        "alipay.data.dataservice.bill.downloadurl.query",
        biz_content={"bill_type": "trade", "bill_date": day.isoformat()},
    )
    if body.get("code") != "10000" or not body.get("bill_download_url"):
        raise ProviderUnavailable(details={"call": "bill", "sub_code": body.get("sub_code")})
    try:
        answer = requests.get(body["bill_download_url"], timeout=30)
        answer.raise_for_status()
    except requests.RequestException as exc:
        raise ProviderUnavailable(details={"call": "bill_download", "error": type(exc).__name__}) from exc
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = [n for n in archive.namelist() if n.endswith(".csv") and "汇总" not in n]
        if not names:
            raise ProviderUnavailable(
                "账单为空", "The bill archive has no detail file", details={"call": "bill_download"}
            )
        return archive.read(names[0]).decode("gbk")


def parse_callback(*, merchant: Merchant, raw_body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """Verify an asynchronous notification (form-encoded; RSA2 over the sorted parameters less
    sign and sign_type) and its clock-skew window."""
    try:
        params = dict(parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        raise NotificationRefused("通知格式无效", "The notification is malformed", code="bad_signature") from None
    signature = params.pop("sign", "")
    if params.get("app_id") != merchant.mch_id:
        raise NotificationRefused("通知签名无效", "The notification's signature is invalid", code="bad_signature")
    try:
        ok = bool(signature) and client(merchant).verify(dict(params), signature)
    except (AliPayException, ValueError, TypeError):
        ok = False
    if not ok:
        raise NotificationRefused("通知签名无效", "The notification's signature is invalid", code="bad_signature")
    try:
        sent = datetime.strptime(params.get("notify_time", ""), "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=timezone.get_default_timezone()
        )
    except ValueError:
        raise NotificationRefused(code="bad_signature") from None
    if abs(time.time() - sent.timestamp()) > settings.CANTEEN_PAYMENT_CLOCK_SKEW_S:
        raise NotificationRefused(
            "通知已过期", "The notification is outside the time window", code="stale_notification"
        )
    params.pop("sign_type", None)
    return params


def acknowledge(ok: bool, message: str = "") -> tuple[int, str]:
    """Alipay: the text `success` stops redelivery; anything else is retried."""
    return (200, "success") if ok else (200, "failure")


def parse_bill(text: str) -> list[Any]:
    """Alipay's 业务明细: '#' comment lines around a header and one line per 交易 or 退款;
    amounts in yuan (refunds negative), ids padded with a tab. The closing count is checked."""
    from .bills import BillInvalid, BillRow

    rows = []
    header: list[str] | None = None
    totals: str | None = None
    tz = timezone.get_default_timezone()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            if line.startswith("#交易合计"):
                totals = line
            continue
        fields = [f.strip() for f in line.split(",")]
        if header is None:
            header = fields
            continue
        if len(fields) < len(header):
            raise BillInvalid(details={"line": number, "reason": "too few fields"})
        row = dict(zip(header, fields, strict=False))
        try:
            at = datetime.strptime(row["完成时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
            fen = abs(Money.from_yuan(row["订单金额（元）"].lstrip("-")).fen)
        except (KeyError, ValueError) as exc:
            raise BillInvalid(details={"line": number, "reason": str(exc)[:80]}) from exc
        if row["业务类型"] == "退款":
            rows.append(
                BillRow("refund", at, row["支付宝交易号"], row["商户订单号"], fen, row.get("退款批次号/请求号", ""))
            )
        else:
            rows.append(BillRow("payment", at, row["支付宝交易号"], row["商户订单号"], fen))
    if header is None or totals is None:
        raise BillInvalid(details={"reason": "header or totals missing"})
    import re

    found = re.findall(r"(\d+)笔", totals)
    pays = sum(1 for r in rows if r.kind == "payment")
    if len(found) != 2 or (int(found[0]), int(found[1])) != (pays, len(rows) - pays):
        raise BillInvalid(details={"reason": "totals do not match the lines"})
    return rows
