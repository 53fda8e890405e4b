"""A local WeChat Pay API v3 server, speaking the protocol as the public documentation
(pay.weixin.qq.com/doc/v3/merchant) describes it, for the unchanged `wechatpayv3` SDK to talk to:

- every request must carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,
  signature=..,timestamp=..,serial_no=..`, an RSA-SHA256 signature over
  "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n" by the merchant's API key, whose certificate
  (serial_no) the server knows; a bad signature gets 401 SIGN_ERROR;
- every answer is signed by the platform key (Wechatpay-Timestamp/Nonce/Signature/Serial, the
  serial being the platform public key's id);
- JSAPI / Native / H5 orders (direct and partner paths), query by out_trade_no, close, refund,
  refund query, the trade bill (download_url; the file: backquote-prefixed CSV with summary lines,
  optionally gzipped);
- notifications: JSON with resource encrypted AEAD_AES_256_GCM with the APIv3 key, signed over
  "timestamp\\nnonce\\nbody\\n", POSTed to the order's notify_url (or handed to the test).

Key material is generated at start (cryptography); `merchant_credentials()` gives what a merchant
would download from the WeChat Pay console.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

CST = dt.timezone(dt.timedelta(hours=8))
BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,"
    "商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
BILL_SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
AUTH_RE = re.compile(r'(\w+)="([^"]*)"')
TRADE_TYPES = {"jsapi": "JSAPI", "native": "NATIVE", "h5": "MWEB", "app": "APP"}


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_public(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _certificate(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Order:
    mchid: str
    sub_mchid: str
    appid: str
    out_trade_no: str
    total: int
    trade_type: str
    notify_url: str
    description: str
    payer_openid: str = ""
    state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: dt.datetime | None = None
    time_expire: str = ""


@dataclass
class Refund:
    refund_id: str
    out_refund_no: str
    order: Order
    amount: int
    notify_url: str
    status: str = "PROCESSING"
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(CST))
    success_time: dt.datetime | None = None


@dataclass
class Notification:
    url: str
    headers: dict[str, str]
    body: bytes


class WeChatPayServer:
    """Start with `with WeChatPayServer(port) as server:`; `server.base_url` is the SDK's gateway."""

    def __init__(self, port: int = 0, *, mchid: str = "1900000109", appid: str = "wxd678efh567hg6787") -> None:
        self.mchid = mchid
        self.appid = appid
        self.apiv3_key = secrets.token_hex(16)  # 32 characters, as the console issues it
        self.merchant_key = _rsa_key()
        self.merchant_cert = _certificate(self.merchant_key, f"{mchid} merchant")
        self.platform_key = _rsa_key()
        self.public_key_id = "PUB_KEY_ID_" + secrets.token_hex(12).upper()
        self.orders: dict[str, Order] = {}
        self.refunds: dict[str, Refund] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        # Test switches: answer every call with 503 (provider down); run a hook when a refund
        # request arrives, before answering it (the notification racing the answer).
        self.down = False
        self.on_refund_request: Any = None
        self.hold_notifications = False
        self.app_secret = secrets.token_hex(16)  # the Official Account's AppSecret
        self.oauth_openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"  # who is signed in to WeChat
        self.oauth_codes: dict[str, str] = {}  # the H5 cashier pays but its notification is lost
        self.notifications_sent: list[Notification] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> WeChatPayServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> WeChatPayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def merchant_credentials(self) -> dict[str, str]:
        """The files a merchant keeps (payments.merchants reads them from a folder or env)."""
        return {
            "apiclient_key.pem": _pem_private(self.merchant_key),
            "cert_serial_no": format(self.merchant_cert.serial_number, "X"),
            "apiv3_key": self.apiv3_key,
            "wechatpay_public_key.pem": _pem_public(self.platform_key),
            "public_key_id": self.public_key_id,
            "official_account_secret": self.app_secret,
        }

    # -- the payer's side (what the WeChat app does) -----------------------------------------
    def pay(
        self, out_trade_no: str, *, openid: str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", deliver: bool = False
    ) -> Notification:
        """The payer confirms: the order is paid and its TRANSACTION.SUCCESS notification built
        (and POSTed to notify_url when deliver)."""
        with self.lock:
            order = self.orders[out_trade_no]
            if order.state == "NOTPAY":
                order.state = "SUCCESS"
                order.transaction_id = "4200" + str(int(time.time() * 1000))[-10:] + secrets.token_hex(5)
                order.success_time = dt.datetime.now(CST).replace(microsecond=0)
                order.payer_openid = order.payer_openid or openid
        note = self.notification(
            order.notify_url, "TRANSACTION.SUCCESS", "transaction", self.transaction_json(order), "支付成功"
        )
        if deliver:
            self.deliver(note)
        return note

    def transaction_json(self, order: Order) -> dict[str, Any]:
        body: dict[str, Any] = {
            "out_trade_no": order.out_trade_no,
            "trade_state": order.state,
            "trade_state_desc": {"NOTPAY": "未支付", "SUCCESS": "支付成功", "CLOSED": "已关闭", "REFUND": "转入退款"}[
                order.state
            ],
            "amount": {"total": order.total, "currency": "CNY"},
        }
        if order.sub_mchid:
            body.update(sp_appid=order.appid, sp_mchid=order.mchid, sub_mchid=order.sub_mchid)
        else:
            body.update(appid=order.appid, mchid=order.mchid)
        if order.transaction_id:
            body.update(
                transaction_id=order.transaction_id,
                trade_type=TRADE_TYPES[order.trade_type],
                bank_type="OTHERS",
                success_time=order.success_time.isoformat(),
                payer={"openid": order.payer_openid},
            )
            body["amount"].update(payer_total=order.total, payer_currency="CNY")
        return body

    def refund_json(self, refund: Refund) -> dict[str, Any]:
        body = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": refund.order.transaction_id,
            "out_trade_no": refund.order.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": refund.created.isoformat(),
            "status": refund.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": refund.order.total,
                "refund": refund.amount,
                "payer_total": refund.order.total,
                "payer_refund": refund.amount,
                "settlement_refund": refund.amount,
                "settlement_total": refund.order.total,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }
        if refund.success_time:
            body["success_time"] = refund.success_time.isoformat()
        return body

    def refund_notification_body(self, refund: Refund) -> dict[str, Any]:
        """A refund notification's resource (its own shape: refund_status, not status)."""
        body = {
            "mchid": refund.order.mchid,
            "out_trade_no": refund.order.out_trade_no,
            "transaction_id": refund.order.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.order.total,
                "refund": refund.amount,
                "payer_total": refund.order.total,
                "payer_refund": refund.amount,
            },
        }
        if refund.order.sub_mchid:
            body.update(sp_mchid=refund.order.mchid, sub_mchid=refund.order.sub_mchid)
        if refund.success_time:
            body["success_time"] = refund.success_time.isoformat()
        return body

    def finish_refund(self, out_refund_no: str, *, status: str = "SUCCESS", deliver: bool = False) -> Notification:
        with self.lock:
            refund = self.refunds[out_refund_no]
            refund.status = status
            if status == "SUCCESS":
                refund.success_time = dt.datetime.now(CST).replace(microsecond=0)
        note = self.notification(
            refund.notify_url, f"REFUND.{status}", "refund", self.refund_notification_body(refund), "退款成功"
        )
        if deliver:
            self.deliver(note)
        return note

    def notification(
        self,
        url: str,
        event_type: str,
        original_type: str,
        resource: dict[str, Any],
        summary: str,
        *,
        timestamp: int | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> Notification:
        nonce = secrets.token_hex(16)[:32]
        associated = original_type
        plaintext = json.dumps(resource, ensure_ascii=False).encode()
        ciphertext = AESGCM(self.apiv3_key.encode()).encrypt(nonce[:12].encode(), plaintext, associated.encode())
        now = dt.datetime.now(CST).replace(microsecond=0)
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "create_time": now.isoformat(),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": summary,
                "resource": {
                    "original_type": original_type,
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce[:12],
                },
            },
            ensure_ascii=False,
        ).encode()
        headers = self._signed_headers(body, timestamp=timestamp, key=key)
        return Notification(url=url, headers=headers, body=body)

    def deliver(self, note: Notification, timeout: float = 10) -> requests.Response:
        self.notifications_sent.append(note)
        return requests.post(
            note.url, data=note.body, headers={**note.headers, "Content-Type": "application/json"}, timeout=timeout
        )

    def _signed_headers(
        self, body: bytes, *, timestamp: int | None = None, key: rsa.RSAPrivateKey | None = None
    ) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = secrets.token_hex(16).upper()
        signature = rsa_sign(key or self.platform_key, f"{ts}\n{nonce}\n{body.decode()}\n")
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.public_key_id,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    # -- the daily trade bill ----------------------------------------------------------------
    def bill_text(self, day: dt.date, *, sub_mchid: str = "", bill_type: str = "ALL") -> str:
        lines = [BILL_HEADER]
        count = total = refunded = 0
        with self.lock:
            for order in self.orders.values():
                if not order.success_time or order.success_time.date() != day:
                    continue
                if sub_mchid and order.sub_mchid != sub_mchid:
                    continue
                if bill_type == "REFUND":
                    continue
                count += 1
                total += order.total
                lines.append(self._bill_line(order, order.success_time, "SUCCESS"))
            for refund in self.refunds.values():
                when = refund.success_time
                if refund.status != "SUCCESS" or not when or when.date() != day:
                    continue
                if sub_mchid and refund.order.sub_mchid != sub_mchid:
                    continue
                if bill_type == "SUCCESS":
                    continue
                count += 1
                refunded += refund.amount
                lines.append(self._bill_line(refund.order, when, "REFUND", refund))
        lines.append(BILL_SUMMARY_HEADER)
        lines.append(
            ",".join(
                "`" + v for v in (str(count), yuan(total), yuan(refunded), "0.00", "0.00", yuan(total), yuan(refunded))
            )
        )
        return "\n".join(lines) + "\n"

    def _bill_line(self, order: Order, when: dt.datetime, state: str, refund: Refund | None = None) -> str:
        fields = [
            when.strftime("%Y-%m-%d %H:%M:%S"),
            order.appid,
            order.mchid,
            order.sub_mchid or "0",
            "",
            order.transaction_id,
            order.out_trade_no,
            order.payer_openid,
            TRADE_TYPES[order.trade_type],
            state,
            "OTHERS",
            "CNY",
            yuan(order.total) if refund is None else "0.00",
            "0.00",
            refund.refund_id if refund else "0",
            refund.out_refund_no if refund else "0",
            yuan(refund.amount) if refund else "0.00",
            "0.00",
            "ORIGINAL" if refund else "",
            "SUCCESS" if refund else "",
            order.description,
            "",
            "0.00",
            "0.60%",
            yuan(order.total) if refund is None else "0.00",
            yuan(refund.amount) if refund else "0.00",
            "",
        ]
        return ",".join("`" + f for f in fields)

    # -- HTTP --------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                server._dispatch(self, "GET")

            def do_POST(self) -> None:
                server._dispatch(self, "POST")

        return Handler

    def _answer(
        self, handler: BaseHTTPRequestHandler, status: int, body: Any = None, *, raw: bytes | None = None
    ) -> None:
        if raw is not None:
            payload, content_type = raw, "application/octet-stream"
        elif body is None:
            payload, content_type = b"", "application/json"
        else:
            payload, content_type = json.dumps(body, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Request-ID", str(uuid.uuid4()))
        if raw is None:
            for name, value in self._signed_headers(payload).items():
                handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _error(self, handler: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        self._answer(handler, status, {"code": code, "message": message})

    def _verify_request(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> bool:
        auth = handler.headers.get("Authorization", "")
        if not auth.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return False
        parts = dict(AUTH_RE.findall(auth))
        if parts.get("mchid") != self.mchid or parts.get("serial_no") != format(self.merchant_cert.serial_number, "X"):
            return False
        if abs(time.time() - int(parts.get("timestamp", "0"))) > 300:
            return False
        message = f"{method}\n{handler.path}\n{parts['timestamp']}\n{parts['nonce_str']}\n{body.decode()}\n"
        try:
            self.merchant_cert.public_key().verify(
                base64.b64decode(parts.get("signature", "")), message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append((method, url.path))
        if url.path == "/connect/oauth2/authorize":
            return self._authorize(handler, query)
        if url.path == "/sns/oauth2/access_token":
            return self._access_token(handler, query)
        if url.path.startswith("/h5pay/"):
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            return self._h5(handler, url.path, {**query, **form})
        if url.path == "/v3/billdownload/file":
            # The download URL needs the same signed Authorization; the answer is the file, unsigned.
            if not self._verify_request(handler, method, body):
                return self._error(handler, 401, "SIGN_ERROR", "签名错误")
            return self._download(handler, query)
        if self.down:
            return self._error(handler, 503, "SYSTEM_ERROR", "系统错误")
        if not self._verify_request(handler, method, body):
            return self._error(handler, 401, "SIGN_ERROR", "签名错误")
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return self._error(handler, 400, "PARAM_ERROR", "请求体不是 JSON")
        path = url.path
        if method == "POST" and (m := re.fullmatch(r"/v3/pay(/partner)?/transactions/(jsapi|native|h5|app)", path)):
            return self._create(handler, data, partner=bool(m.group(1)), kind=m.group(2))
        if m := re.fullmatch(r"/v3/pay(?:/partner)?/transactions/out-trade-no/([^/]+)/close", path):
            order = self.orders.get(m.group(1))
            if order is None:
                return self._error(handler, 404, "ORDER_NOT_EXIST", "订单不存在")
            if order.state == "SUCCESS":
                return self._error(handler, 400, "ORDERPAID", "订单已支付")
            order.state = "CLOSED"
            return self._answer(handler, 204)
        if method == "GET" and (m := re.fullmatch(r"/v3/pay(?:/partner)?/transactions/out-trade-no/([^/]+)", path)):
            order = self.orders.get(m.group(1))
            if order is None:
                return self._error(handler, 404, "ORDER_NOT_EXIST", "订单不存在")
            return self._answer(handler, 200, self.transaction_json(order))
        if method == "POST" and path == "/v3/refund/domestic/refunds":
            return self._refund(handler, data)
        if method == "GET" and (m := re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path)):
            refund = self.refunds.get(m.group(1))
            if refund is None:
                return self._error(handler, 404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return self._answer(handler, 200, self.refund_json(refund))
        if method == "GET" and path == "/v3/bill/tradebill":
            try:
                dt.date.fromisoformat(query.get("bill_date", ""))
            except ValueError:
                return self._error(handler, 400, "PARAM_ERROR", "bill_date 格式错误")
            token = base64.urlsafe_b64encode(json.dumps(query).encode()).decode()
            # The hash is of the bill itself, before gzip (the documented hash_value).
            text = self._bill_bytes({**query, "tar_type": ""})
            return self._answer(
                handler,
                200,
                {
                    "hash_type": "SHA1",
                    "hash_value": hashlib.sha1(text).hexdigest(),  # noqa: S324 (the documented hash)
                    "download_url": f"{self.base_url}/v3/billdownload/file?token={token}",
                },
            )
        return self._error(handler, 404, "NOT_FOUND", "资源不存在")

    def _authorize(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        """open.weixin.qq.com's authorize page: the user (already in WeChat) is sent straight
        back to redirect_uri with a one-time code (snsapi_base asks no consent)."""
        from urllib.parse import urlencode

        if query.get("appid") != self.appid or query.get("response_type") != "code" or not query.get("redirect_uri"):
            return self._answer(handler, 200, {"errcode": 10003, "errmsg": "redirect_uri or appid invalid"})
        code = secrets.token_hex(16)
        self.oauth_codes[code] = self.oauth_openid
        sep = "&" if "?" in query["redirect_uri"] else "?"
        handler.send_response(302)
        handler.send_header(
            "Location", query["redirect_uri"] + sep + urlencode({"code": code, "state": query.get("state", "")})
        )
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return None

    def _access_token(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        """api.weixin.qq.com/sns/oauth2/access_token: a code is good once, with the right secret."""
        if query.get("appid") != self.appid or query.get("secret") != self.app_secret:
            return self._answer(handler, 200, {"errcode": 40125, "errmsg": "invalid appsecret"})
        openid = self.oauth_codes.pop(query.get("code", ""), None)
        if openid is None or query.get("grant_type") != "authorization_code":
            return self._answer(handler, 200, {"errcode": 40029, "errmsg": "invalid code"})
        return self._answer(
            handler,
            200,
            {
                "access_token": secrets.token_hex(20),
                "expires_in": 7200,
                "refresh_token": secrets.token_hex(20),
                "openid": openid,
                "scope": "snsapi_base",
            },
        )

    def _h5(self, handler: BaseHTTPRequestHandler, path: str, params: dict[str, str]) -> None:
        """The WeChat H5 cashier the payer's phone browser opens (h5_url + redirect_url): paying
        sends the notification to notify_url, then returns the browser to redirect_url."""
        import html

        order = self.orders.get(params.get("out_trade_no", ""))
        if order is None:
            return self._error(handler, 404, "ORDER_NOT_EXIST", "订单不存在")
        back = params.get("redirect_url", "")
        if path == "/h5pay/checkmweb":
            page = f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>微信支付</title></head><body><h1>微信支付</h1><p data-testid="wx-amount">¥{yuan(order.total)}</p>
<form method="post" action="/h5pay/confirm"><input type="hidden" name="out_trade_no" value="{html.escape(order.out_trade_no)}">
<input type="hidden" name="redirect_url" value="{html.escape(back)}"><button data-testid="wx-confirm">确认支付</button></form></body></html>""".encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html; charset=utf-8")
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page)
            return None
        note = self.pay(order.out_trade_no)
        if not self.hold_notifications:
            try:
                self.deliver(note)
            except requests.RequestException:
                pass
        handler.send_response(302)
        handler.send_header("Location", back or "/")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return None

    def _bill_bytes(self, query: dict[str, str]) -> bytes:
        text = self.bill_text(
            dt.date.fromisoformat(query["bill_date"]),
            sub_mchid=query.get("sub_mchid", ""),
            bill_type=query.get("bill_type", "ALL"),
        ).encode()
        return gzip.compress(text) if query.get("tar_type") == "GZIP" else text

    def _download(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        try:
            params = json.loads(base64.urlsafe_b64decode(query.get("token", "")))
        except ValueError:
            return self._error(handler, 400, "PARAM_ERROR", "token 无效")
        return self._answer(handler, 200, raw=self._bill_bytes(params))

    def _create(self, handler: BaseHTTPRequestHandler, data: dict[str, Any], *, partner: bool, kind: str) -> None:
        need = ["description", "out_trade_no", "amount", "notify_url"]
        need += ["sp_appid", "sp_mchid", "sub_mchid"] if partner else ["appid", "mchid"]
        missing = [k for k in need if not data.get(k)]
        payer = data.get("payer") or {}
        if kind == "jsapi" and not any(payer.get(k) for k in ("openid", "sp_openid", "sub_openid")):
            missing.append("payer.openid")
        if kind == "h5" and not (data.get("scene_info") or {}).get("h5_info"):
            missing.append("scene_info.h5_info")
        if missing:
            return self._error(handler, 400, "PARAM_ERROR", f"缺少参数 {','.join(missing)}")
        total = (data.get("amount") or {}).get("total")
        if not isinstance(total, int) or total <= 0:
            return self._error(handler, 400, "PARAM_ERROR", "amount.total 无效")
        mchid = data.get("sp_mchid") or data.get("mchid")
        if mchid != self.mchid:
            return self._error(handler, 403, "NO_AUTH", "商户号不符")
        with self.lock:
            existing = self.orders.get(data["out_trade_no"])
            if existing is not None:
                if existing.state == "SUCCESS":
                    return self._error(handler, 400, "ORDERPAID", "该订单已支付")
                if existing.total != total:
                    return self._error(handler, 400, "INVALID_REQUEST", "订单号重复，参数不一致")
            else:
                existing = self.orders[data["out_trade_no"]] = Order(
                    mchid=mchid,
                    sub_mchid=data.get("sub_mchid", ""),
                    appid=data.get("sp_appid") or data.get("appid"),
                    out_trade_no=data["out_trade_no"],
                    total=total,
                    trade_type=kind,
                    notify_url=data["notify_url"],
                    description=data["description"],
                    payer_openid=payer.get("openid") or payer.get("sub_openid") or payer.get("sp_openid") or "",
                    time_expire=data.get("time_expire", ""),
                )
        prepay = "wx" + hashlib.sha256(existing.out_trade_no.encode()).hexdigest()[:30]
        if kind in ("jsapi", "app"):
            return self._answer(handler, 200, {"prepay_id": prepay})
        if kind == "native":
            return self._answer(handler, 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={prepay[-7:]}"})
        return self._answer(
            handler,
            200,
            {"h5_url": f"{self.base_url}/h5pay/checkmweb?prepay_id={prepay}&out_trade_no={existing.out_trade_no}"},
        )

    def _refund(self, handler: BaseHTTPRequestHandler, data: dict[str, Any]) -> None:
        amount = data.get("amount") or {}
        order = self.orders.get(data.get("out_trade_no", "")) or next(
            (o for o in self.orders.values() if o.transaction_id and o.transaction_id == data.get("transaction_id")),
            None,
        )
        if not data.get("out_refund_no") or not isinstance(amount.get("refund"), int):
            return self._error(handler, 400, "PARAM_ERROR", "缺少参数")
        if order is None or order.state not in ("SUCCESS", "REFUND"):
            return self._error(handler, 404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
        if amount.get("total") != order.total:
            return self._error(handler, 400, "PARAM_ERROR", "订单金额不符")
        with self.lock:
            refund = self.refunds.get(data["out_refund_no"])
            if refund is None:
                done = sum(r.amount for r in self.refunds.values() if r.order is order and r.status != "ABNORMAL")
                if done + amount["refund"] > order.total:
                    return self._error(handler, 403, "NOT_ENOUGH", "退款金额超过订单可退金额")
                refund = self.refunds[data["out_refund_no"]] = Refund(
                    refund_id="5030" + secrets.token_hex(10),
                    out_refund_no=data["out_refund_no"],
                    order=order,
                    amount=amount["refund"],
                    notify_url=data.get("notify_url") or order.notify_url,
                )
                order.state = "REFUND"
        if self.on_refund_request is not None:
            self.on_refund_request(refund)
        return self._answer(handler, 200, self.refund_json(refund))
