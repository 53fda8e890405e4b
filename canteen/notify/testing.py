"""Local servers that speak each channel's protocol, for the tests and bench/notify.py: one HTTP
server answering as the WeChat Official Account API, the WeCom group robot webhook and Alibaba
Cloud SMS (checking its request signature independently), and an SMTP server (aiosmtpd).

They check what a real provider checks (appid/secret, access token, robot key, SMS signature,
required fields) and can be told to be down or to expire the token. Never used by production
settings: only tests and the benchmark import this module."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit


def _aliyun_encode(value: str) -> str:
    # Written apart from channels._pct on purpose: the server must not share the client's bugs.
    return quote(value.encode("utf-8"), safe="-_.~")


def aliyun_expected_signature(query: dict[str, str], secret: str) -> str:
    pairs = sorted((k, v) for k, v in query.items() if k != "Signature")
    canonical = "&".join(_aliyun_encode(k) + "=" + _aliyun_encode(v) for k, v in pairs)
    string_to_sign = "GET&%2F&" + _aliyun_encode(canonical)
    mac = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class ProviderState:
    appid: str = "wx-test-app"
    secret: str = "wx-test-secret"  # noqa: S105 (the local test server's own)
    sms_key_id: str = "LTAI-test"
    sms_key_secret: str = "sms-test-secret"  # noqa: S105
    wecom_keys: set[str] = field(default_factory=lambda: {"robot-key-1"})
    down: bool = False
    expire_token_once: bool = False
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    wechat: list[dict[str, Any]] = field(default_factory=list)
    wecom: list[dict[str, Any]] = field(default_factory=list)
    sms: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        return len(self.wechat) + len(self.wecom) + len(self.sms)


class _Handler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def do_GET(self) -> None:  # noqa: N802
        state: ProviderState = self.server.state
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if state.down:
            return self._reply(503, {"message": "service unavailable"})
        if url.path == "/cgi-bin/token":
            with state.lock:
                state.token_requests += 1
            if query.get("grant_type") != "client_credential":
                return self._reply(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
            if query.get("appid") != state.appid or query.get("secret") != state.secret:
                return self._reply(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
            token = uuid.uuid4().hex
            with state.lock:
                state.tokens.add(token)
            return self._reply(200, {"access_token": token, "expires_in": 7200})
        if url.path == "/_stats":
            return self._reply(
                200,
                {
                    "wechat": len(state.wechat),
                    "wecom": len(state.wecom),
                    "sms": len(state.sms),
                    "received_at": state.received_at,
                },
            )
        if url.path == "/" and query.get("Action") == "SendSms":
            return self._sms(state, query)
        return self._reply(404, {"errcode": 404})

    def _sms(self, state: ProviderState, query: dict[str, str]) -> None:
        required = ["AccessKeyId", "PhoneNumbers", "SignName", "TemplateCode", "Signature", "SignatureNonce"]
        if any(not query.get(k) for k in required) or query.get("Version") != "2017-05-25":
            return self._reply(400, {"Code": "MissingParameter", "Message": "missing", "RequestId": "r"})
        if query["AccessKeyId"] != state.sms_key_id:
            return self._reply(404, {"Code": "InvalidAccessKeyId.NotFound", "RequestId": "r"})
        if query["Signature"] != aliyun_expected_signature(query, state.sms_key_secret):
            return self._reply(400, {"Code": "SignatureDoesNotMatch", "RequestId": "r"})
        if not query["PhoneNumbers"].isdigit():
            return self._reply(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "RequestId": "r"})
        json.loads(query.get("TemplateParam") or "{}")
        with state.lock:
            state.sms.append(query)
            state.received_at.append(time.time())
        return self._reply(
            200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{uuid.uuid4().hex[:10]}", "RequestId": "r"}
        )

    def do_POST(self) -> None:  # noqa: N802
        state: ProviderState = self.server.state
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        body = self._body()
        if state.down:
            return self._reply(503, {"message": "service unavailable"})
        if url.path == "/cgi-bin/message/template/send":
            token = query.get("access_token", "")
            if state.expire_token_once and token in state.tokens:
                state.expire_token_once = False
                state.tokens.discard(token)
                return self._reply(200, {"errcode": 42001, "errmsg": "access_token expired"})
            if token not in state.tokens:
                return self._reply(200, {"errcode": 40001, "errmsg": "invalid credential"})
            if not body.get("touser") or not body.get("template_id") or not isinstance(body.get("data"), dict):
                return self._reply(200, {"errcode": 47001, "errmsg": "data format error"})
            if body["touser"].startswith("unsubscribed"):
                return self._reply(200, {"errcode": 43004, "errmsg": "require subscribe"})
            with state.lock:
                state.wechat.append(body)
                state.received_at.append(time.time())
            return self._reply(200, {"errcode": 0, "errmsg": "ok", "msgid": len(state.wechat) + 1000})
        if url.path == "/cgi-bin/webhook/send":
            if query.get("key") not in state.wecom_keys:
                return self._reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
            if body.get("msgtype") not in ("text", "markdown", "image", "news"):
                return self._reply(200, {"errcode": 40008, "errmsg": "invalid message type"})
            with state.lock:
                state.wecom.append(body)
                state.received_at.append(time.time())
            return self._reply(200, {"errcode": 0, "errmsg": "ok"})
        return self._reply(404, {"errcode": 404})


class ProviderServer:
    """`with ProviderServer(port) as server:` — server.url, server.state."""

    def __init__(self, port: int, state: ProviderState | None = None) -> None:
        self.port = port
        self.state = state or ProviderState()

    def __enter__(self) -> ProviderServer:
        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self.state  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SmtpSink:
    """An aiosmtpd server that keeps every message it accepts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


if __name__ == "__main__":  # python -m canteen.notify.testing PORT: a provider server for the bench
    import sys

    with ProviderServer(int(sys.argv[1])) as running:
        sys.stdout.write(f"provider server on {running.url}\n")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
