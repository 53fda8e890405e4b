"""A local Alipay open-platform gateway (gateway.do), speaking the protocol as Alipay's public
documentation (opendocs.alipay.com) describes it, for the unchanged `python-alipay-sdk`:

- requests are GETs on /gateway.do with the common parameters (app_id, method, charset,
  sign_type=RSA2, timestamp, version, biz_content JSON) and `sign`: RSA2 (SHA256withRSA) by the
  app's private key over the parameters (less sign) sorted and joined as k=v&k=v; a bad
  signature gets 40002 isv.invalid-signature;
- answers are {"<method>_response": {...}, "sign": ...}, the sign by Alipay's key over the
  response object's exact JSON text;
- alipay.trade.wap.pay / page.pay: the payer's browser opens the signed URL and sees a cashier
  page; paying sends the asynchronous notification (form-encoded POST, RSA2 over the sorted
  parameters less sign and sign_type) and returns the browser to return_url;
- alipay.trade.query, .close, .refund, .fastpay.refund.query, and
  alipay.data.dataservice.bill.downloadurl.query, whose URL serves a zip of GBK CSV files
  (业务明细 with '#' comment lines, and its 汇总).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import secrets
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .wechat_server import CST, _pem_private, _pem_public, _rsa_key, rsa_sign, yuan

BILL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def _fen(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


@dataclass
class Trade:
    out_trade_no: str
    total: int
    subject: str
    notify_url: str
    return_url: str
    status: str = "WAIT_BUYER_PAY"
    trade_no: str = ""
    paid_at: dt.datetime | None = None
    refunds: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)


class AlipayGateway:
    def __init__(self, port: int = 0, *, app_id: str = "2021000100000001") -> None:
        self.app_id = app_id
        self.app_key = _rsa_key()
        self.alipay_key = _rsa_key()
        self.trades: dict[str, Trade] = {}
        self.lock = threading.RLock()
        self.down = False
        self.notifications: list[tuple[str, dict[str, str]]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.gateway = f"{self.base_url}/gateway.do"

    def start(self) -> AlipayGateway:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> AlipayGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def merchant_credentials(self) -> dict[str, str]:
        return {
            "app_private_key.pem": _pem_private(self.app_key),
            "alipay_public_key.pem": _pem_public(self.alipay_key),
        }

    # -- signatures ----------------------------------------------------------------------------
    @staticmethod
    def content(params: dict[str, str], *, drop: tuple[str, ...]) -> str:
        return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in drop and v != "")

    def verify_request(self, params: dict[str, str]) -> bool:
        try:
            self.app_key.public_key().verify(
                base64.b64decode(params.get("sign", "")),
                self.content(params, drop=("sign",)).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def signed_params(self, params: dict[str, str], key: Any = None) -> dict[str, str]:
        params = {**params, "sign_type": "RSA2"}
        params["sign"] = rsa_sign(key or self.alipay_key, self.content(params, drop=("sign", "sign_type")))
        return params

    # -- the payer and the notifications -------------------------------------------------------
    def pay(self, out_trade_no: str, *, deliver: bool = False) -> dict[str, str]:
        with self.lock:
            trade = self.trades[out_trade_no]
            if trade.status == "WAIT_BUYER_PAY":
                trade.status = "TRADE_SUCCESS"
                trade.trade_no = dt.datetime.now(CST).strftime("%Y%m%d") + "2200" + secrets.token_hex(7)[:14]
                trade.paid_at = dt.datetime.now(CST).replace(microsecond=0)
        note = self.notification(trade)
        if deliver:
            self.deliver(trade.notify_url, note)
        return note

    def notification(
        self,
        trade: Trade,
        *,
        refund_no: str = "",
        notify_time: dt.datetime | None = None,
        key: Any = None,
        **override: str,
    ) -> dict[str, str]:
        now = notify_time or dt.datetime.now(CST)
        params = {
            "notify_time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "charset": "utf-8",
            "version": "1.0",
            "app_id": self.app_id,
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status,
            "total_amount": yuan(trade.total),
            "receipt_amount": yuan(trade.total),
            "buyer_pay_amount": yuan(trade.total),
            "subject": trade.subject,
            "gmt_create": (trade.paid_at or now).strftime("%Y-%m-%d %H:%M:%S"),
            "gmt_payment": (trade.paid_at or now).strftime("%Y-%m-%d %H:%M:%S"),
            "seller_id": "2088101117955611",
        }
        if refund_no:
            fen, when = trade.refunds[refund_no]
            params.update(
                out_biz_no=refund_no,
                refund_fee=yuan(sum(f for f, _ in trade.refunds.values())),
                gmt_refund=when.strftime("%Y-%m-%d %H:%M:%S.000"),
            )
        params.update(override)
        return self.signed_params(params, key)

    def deliver(self, url: str, params: dict[str, str]) -> requests.Response:
        self.notifications.append((url, params))
        return requests.post(url, data=params, timeout=10)

    # -- bills --------------------------------------------------------------------------------
    def bill_csv(self, day: dt.date) -> str:
        lines = [
            "#支付宝业务明细查询",
            f"#账号：[{self.app_id}]",
            f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   终止日期：[{day + dt.timedelta(days=1):%Y年%m月%d日} 00:00:00]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            BILL_HEADER,
        ]
        pays = refunds = 0
        with self.lock:
            for t in self.trades.values():
                if t.paid_at and t.paid_at.date() == day:
                    pays += 1
                    stamp = t.paid_at.strftime("%Y-%m-%d %H:%M:%S")
                    lines.append(
                        f"{t.trade_no}\t,{t.out_trade_no}\t,交易,{t.subject},{stamp},{stamp},,,,,buyer@example.com,"
                        f"{yuan(t.total)},{yuan(t.total)},0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-{yuan(t.total * 6 // 1000)},0.00,"
                    )
                for no, (fen, when) in t.refunds.items():
                    if when.date() == day:
                        refunds += 1
                        stamp = when.strftime("%Y-%m-%d %H:%M:%S")
                        lines.append(
                            f"{t.trade_no}\t,{t.out_trade_no}\t,退款,{t.subject},{stamp},{stamp},,,,,buyer@example.com,"
                            f"-{yuan(fen)},-{yuan(fen)},0.00,0.00,0.00,0.00,0.00,,0.00,0.00,{no}\t,0.00,0.00,"
                        )
        lines += [
            "#-----------------------------------------业务明细列表结束------------------------------------",
            f"#交易合计：{pays}笔，退款合计：{refunds}笔",
            f"#导出时间：[{dt.datetime.now(CST):%Y年%m月%d日 %H:%M:%S}]",
        ]
        return "\r\n".join(lines) + "\r\n"

    def bill_zip(self, day: dt.date) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr(f"{self.app_id}_{day:%Y%m%d}_业务明细.csv", self.bill_csv(day).encode("gbk"))
            archive.writestr(f"{self.app_id}_{day:%Y%m%d}_业务明细(汇总).csv", "#支付宝业务汇总查询\r\n".encode("gbk"))
        return out.getvalue()

    # -- HTTP ---------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                gateway._dispatch(self, dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                gateway._dispatch(self, {**dict(parse_qsl(urlsplit(self.path).query)), **form})

        return Handler

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(body)

    def _respond(self, handler: BaseHTTPRequestHandler, method: str, payload: dict[str, Any]) -> None:
        name = method.replace(".", "_") + "_response"
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        sign = rsa_sign(self.alipay_key, inner)
        body = '{"' + name + '":' + inner + ',"sign":"' + sign + '"}'
        self._send(handler, 200, body.encode(), "application/json;charset=utf-8")

    @staticmethod
    def _fail(sub_code: str, sub_msg: str, code: str = "40004") -> dict[str, str]:
        return {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def _dispatch(self, handler: BaseHTTPRequestHandler, params: dict[str, str]) -> None:
        path = urlsplit(handler.path).path
        if path == "/bill/download":
            return self._send(
                handler, 200, self.bill_zip(dt.date.fromisoformat(params.get("day", ""))), "application/zip"
            )
        if path == "/cashier/confirm":
            return self._confirm(handler, params)
        if self.down:
            return self._send(handler, 503, b"Service Unavailable", "text/plain")
        method = params.get("method", "")
        if not self.verify_request(params) or params.get("app_id") != self.app_id:
            return self._respond(handler, method or "error", self._fail("isv.invalid-signature", "验签出错", "40002"))
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return self._respond(handler, method, self._fail("isv.invalid-parameter", "biz_content 无效", "40002"))
        if method in ("alipay.trade.wap.pay", "alipay.trade.page.pay"):
            return self._cashier(handler, params, biz)
        trade = self.trades.get(biz.get("out_trade_no", "")) or next(
            (t for t in self.trades.values() if t.trade_no and t.trade_no == biz.get("trade_no")), None
        )
        if method == "alipay.data.dataservice.bill.downloadurl.query":
            day = biz.get("bill_date", "")
            return self._respond(
                handler,
                method,
                {"code": "10000", "msg": "Success", "bill_download_url": f"{self.base_url}/bill/download?day={day}"},
            )
        if trade is None:
            return self._respond(handler, method, self._fail("ACQ.TRADE_NOT_EXIST", "交易不存在"))
        if method == "alipay.trade.query":
            answer = {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": trade.out_trade_no,
                "trade_status": trade.status,
                "total_amount": yuan(trade.total),
            }
            if trade.trade_no:
                answer.update(trade_no=trade.trade_no, send_pay_date=trade.paid_at.strftime("%Y-%m-%d %H:%M:%S"))
            return self._respond(handler, method, answer)
        if method == "alipay.trade.close":
            if trade.status != "WAIT_BUYER_PAY":
                return self._respond(handler, method, self._fail("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"))
            trade.status = "TRADE_CLOSED"
            return self._respond(
                handler, method, {"code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no}
            )
        if method == "alipay.trade.refund":
            no = biz.get("out_request_no") or trade.out_trade_no
            fen = _fen(str(biz.get("refund_amount", "0")))
            with self.lock:
                if no not in trade.refunds:
                    if (
                        trade.status not in ("TRADE_SUCCESS",)
                        or sum(f for f, _ in trade.refunds.values()) + fen > trade.total
                    ):
                        return self._respond(
                            handler, method, self._fail("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
                        )
                    trade.refunds[no] = (fen, dt.datetime.now(CST).replace(microsecond=0))
                    if sum(f for f, _ in trade.refunds.values()) == trade.total:
                        trade.status = "TRADE_CLOSED"
            return self._respond(
                handler,
                method,
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": trade.trade_no,
                    "out_trade_no": trade.out_trade_no,
                    "fund_change": "Y",
                    "refund_fee": yuan(sum(f for f, _ in trade.refunds.values())),
                },
            )
        if method == "alipay.trade.fastpay.refund.query":
            no = biz.get("out_request_no", "")
            if no not in trade.refunds:
                return self._respond(handler, method, {"code": "10000", "msg": "Success"})
            return self._respond(
                handler,
                method,
                {
                    "code": "10000",
                    "msg": "Success",
                    "out_request_no": no,
                    "refund_amount": yuan(trade.refunds[no][0]),
                    "refund_status": "REFUND_SUCCESS",
                    "total_amount": yuan(trade.total),
                },
            )
        return self._respond(handler, method, self._fail("isv.invalid-method", "不存在的方法名", "40002"))

    def _cashier(self, handler: BaseHTTPRequestHandler, params: dict[str, str], biz: dict[str, Any]) -> None:
        """The payer's browser at Alipay: a cashier page for the signed order."""
        with self.lock:
            trade = self.trades.get(biz["out_trade_no"])
            if trade is None:
                trade = self.trades[biz["out_trade_no"]] = Trade(
                    out_trade_no=biz["out_trade_no"],
                    total=_fen(str(biz["total_amount"])),
                    subject=biz.get("subject", ""),
                    notify_url=params.get("notify_url", ""),
                    return_url=params.get("return_url", ""),
                )
        page = f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>支付宝 · 收银台</title></head><body><h1>支付宝收银台</h1><p>{html.escape(trade.subject)}</p>
<p data-testid="alipay-amount">¥{yuan(trade.total)}</p>
<form method="post" action="/cashier/confirm"><input type="hidden" name="out_trade_no" value="{html.escape(trade.out_trade_no)}">
<button data-testid="alipay-confirm">确认付款</button></form></body></html>"""
        self._send(handler, 200, page.encode(), "text/html; charset=utf-8")

    def _confirm(self, handler: BaseHTTPRequestHandler, params: dict[str, str]) -> None:
        trade = self.trades.get(params.get("out_trade_no", ""))
        if trade is None:
            return self._send(handler, 404, b"no such trade", "text/plain")
        note = self.pay(trade.out_trade_no)
        hold = getattr(self, "hold_notifications", False)
        if not hold:
            try:
                self.deliver(trade.notify_url, note)
            except requests.RequestException:
                pass
        back = self.signed_params(
            {
                "app_id": self.app_id,
                "method": "alipay.trade.wap.pay.return",
                "charset": "utf-8",
                "timestamp": time.strftime("%Y-%m-%d %H:%M:%S"),
                "out_trade_no": trade.out_trade_no,
                "trade_no": trade.trade_no,
                "total_amount": yuan(trade.total),
                "seller_id": "2088101117955611",
                "version": "1.0",
            }
        )
        sep = "&" if "?" in trade.return_url else "?"
        self._send(handler, 302, b"", "text/plain", {"Location": trade.return_url + sep + urlencode(back)})
        return None
