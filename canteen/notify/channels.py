"""Outside channels, each speaking its provider's documented protocol.

Protocol: `configured()` (credentials present: a channel without them is off and says why),
`address(recipient)` ("" when the recipient cannot be reached on it), and
`send(delivery) -> Sent | Retry | Failed`. A send never raises: network errors and 5xx are
Retry (the worker backs off, then dead-letters), a provider's refusal of this message is Failed.

- e-mail: SMTP through Django's SMTP e-mail backend;
- WeCom group robot: POST {url}/cgi-bin/webhook/send?key=KEY (JSON; markdown, and the alarm
  snapshot as an image message: base64 + md5);
- WeChat Official Account: GET {url}/cgi-bin/token (appid + secret → access_token, cached until
  shortly before expiry, refreshed on 40001/42001), POST {url}/cgi-bin/message/template/send;
- SMS: Alibaba Cloud SMS SendSms (API version 2017-05-25) over its RPC interface, signed with
  signature version 1.0 (HMAC-SHA1 over the canonicalized query); docs/decisions.md says why
  this is the HTTP API and not the SDK.

Base URLs come from settings, so tests point them at local servers that speak the protocol."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib import error, parse, request

from django.conf import settings
from django.core.cache import cache

from .choices import Channel

# -------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Sent:
    ref: str = ""


@dataclass(frozen=True)
class Retry:
    error: str
    after_seconds: float | None = None


@dataclass(frozen=True)
class Failed:
    code: str


Outcome = Sent | Retry | Failed


def _setting(name: str, default: Any = "") -> Any:
    return getattr(settings, name, default)


def _timeout() -> float:
    return float(_setting("CANTEEN_NOTIFY_HTTP_TIMEOUT", 5))


def _http(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    """One JSON call; raises OSError-family errors for the caller to turn into Retry."""
    if not url.startswith(("http://", "https://")):
        raise OSError(f"not an http(s) URL: {url[:40]}")
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    req = request.Request(url, data=data, method=method)  # noqa: S310 (scheme checked above)
    if data is not None:
        req.add_header("Content-Type", "application/json; charset=utf-8")
    try:
        with request.urlopen(req, timeout=_timeout()) as resp:  # noqa: S310 (URL from settings)
            raw = resp.read(1_000_000)
            status = resp.status
    except error.HTTPError as exc:
        raw = exc.read(100_000)
        status = exc.code
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        parsed = {"_raw": raw[:200].decode(errors="replace")}
    return status, parsed if isinstance(parsed, dict) else {"_raw": str(parsed)[:200]}


def _network(exc: BaseException) -> Retry:
    return Retry(f"network: {type(exc).__name__}: {exc}"[:300])


def _text(delivery: Any) -> tuple[str, str]:
    """(title, body) in the recipient's language; both languages for groups and e-mail."""
    m = delivery.message
    if delivery.channel in (Channel.WECOM, Channel.EMAIL):
        return f"{m.title_zh} {m.title_en}", f"{m.body_zh}\n\n{m.body_en}"
    if m.context.get("_lang", "").startswith("en"):
        return m.title_en, m.body_en
    return m.title_zh, m.body_zh


def _absolute(link: str) -> str:
    base = str(_setting("CANTEEN_SITE_URL", "")).rstrip("/")
    if not link or link.startswith("http"):
        return link
    return f"{base}{link}" if base else link


# -------------------------------------------------------------------------- e-mail


class EmailChannel:
    name = Channel.EMAIL

    def configured(self) -> tuple[bool, str]:
        if not _setting("CANTEEN_NOTIFY_EMAIL_HOST") or not _setting("CANTEEN_NOTIFY_EMAIL_FROM"):
            return False, "CANTEEN_NOTIFY_EMAIL_HOST / CANTEEN_NOTIFY_EMAIL_FROM not set"
        return True, f"SMTP {_setting('CANTEEN_NOTIFY_EMAIL_HOST')}:{_setting('CANTEEN_NOTIFY_EMAIL_PORT', 25)}"

    def address(self, recipient: Any, extra: dict[str, list[str]]) -> str:
        if extra.get(self.name):
            return extra[self.name][0]
        return getattr(recipient.user, "email", "") or ""

    def send(self, delivery: Any) -> Outcome:
        from django.core.mail import EmailMessage, get_connection

        title, body = _text(delivery)
        link = _absolute(delivery.message.link)
        connection = get_connection(
            "django.core.mail.backends.smtp.EmailBackend",
            host=_setting("CANTEEN_NOTIFY_EMAIL_HOST"),
            port=int(_setting("CANTEEN_NOTIFY_EMAIL_PORT", 25)),
            username=_setting("CANTEEN_NOTIFY_EMAIL_USER") or None,
            password=_setting("CANTEEN_NOTIFY_EMAIL_PASSWORD") or None,
            use_tls=bool(_setting("CANTEEN_NOTIFY_EMAIL_TLS", False)),
            timeout=_timeout(),
            fail_silently=False,
        )
        ref = f"<notify-{delivery.pk}-{uuid.uuid4().hex[:12]}@canteen>"
        mail = EmailMessage(
            subject=title,
            body=body + (f"\n\n{link}" if link else ""),
            from_email=_setting("CANTEEN_NOTIFY_EMAIL_FROM"),
            to=[delivery.address],
            headers={"Message-ID": ref},
            connection=connection,
        )
        try:
            mail.send()
        except smtplib.SMTPRecipientsRefused as exc:
            return Failed(f"smtp_recipient_refused: {list(exc.recipients.values())[:1]}"[:120])
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                return Retry(f"smtp {exc.smtp_code}")
            return Failed(f"smtp_{exc.smtp_code}")
        except (OSError, smtplib.SMTPException) as exc:
            return _network(exc)
        return Sent(ref)


# -------------------------------------------------------------------------- WeCom group robot


class WecomChannel:
    name = Channel.WECOM

    def configured(self) -> tuple[bool, str]:
        url = _setting("CANTEEN_NOTIFY_WECOM_URL")
        if not url:
            return False, "CANTEEN_NOTIFY_WECOM_URL not set"
        from .models import Address

        n = Address.objects.filter(channel=Channel.WECOM).count()
        return True, f"{url}, {n} group(s)"

    def address(self, recipient: Any, extra: dict[str, list[str]]) -> str:
        return recipient.group.address if recipient.group is not None else ""

    def _post(self, key: str, body: dict) -> Outcome:
        url = f"{str(_setting('CANTEEN_NOTIFY_WECOM_URL')).rstrip('/')}/cgi-bin/webhook/send?key={parse.quote(key)}"
        try:
            status, reply = _http("POST", url, body)
        except OSError as exc:
            return _network(exc)
        if status >= 500:
            return Retry(f"http {status}")
        code = reply.get("errcode")
        if status == 200 and code == 0:
            return Sent("")
        if code == 45009:  # the robot's limit: 20 messages a minute
            return Retry("wecom 45009 rate limited", after_seconds=60)
        if code in (-1,):
            return Retry(f"wecom {code}")
        return Failed(f"wecom_{code if code is not None else status}")

    def send(self, delivery: Any) -> Outcome:
        title, body = _text(delivery)
        link = _absolute(delivery.message.link)
        content = f"**{title}**\n> {body}".replace("\n\n", "\n> ")
        if link:
            content += f"\n[查看 View]({link})"
        outcome = self._post(delivery.address, {"msgtype": "markdown", "markdown": {"content": content[:4000]}})
        snapshot = delivery.message.context.get("_snapshot_file")
        if isinstance(outcome, Sent) and snapshot:
            image = _read_image(snapshot)
            if image:
                # The photo follows the text; losing it must not resend the text.
                self._post(
                    delivery.address,
                    {
                        "msgtype": "image",
                        "image": {"base64": base64.b64encode(image).decode(), "md5": hashlib.md5(image).hexdigest()},  # noqa: S324 (the protocol's checksum)
                    },
                )
        return outcome


def _read_image(path: str) -> bytes:
    from pathlib import Path

    try:
        data = Path(path).read_bytes()
    except OSError:
        return b""
    return data if len(data) <= 2 * 1024 * 1024 else b""


# -------------------------------------------------------------------------- WeChat Official Account


class WechatChannel:
    name = Channel.WECHAT
    TOKEN_ERRORS = frozenset({40001, 40014, 42001})
    PERMANENT = frozenset({40003, 43004, 43101, 40037})

    def configured(self) -> tuple[bool, str]:
        if not _setting("CANTEEN_NOTIFY_WECHAT_APPID") or not _setting("CANTEEN_NOTIFY_WECHAT_SECRET"):
            return False, "CANTEEN_NOTIFY_WECHAT_APPID / CANTEEN_NOTIFY_WECHAT_SECRET not set"
        if not self.template_id(""):
            return False, "CANTEEN_NOTIFY_WECHAT_TEMPLATE not set"
        return True, f"appid {_setting('CANTEEN_NOTIFY_WECHAT_APPID')}"

    def template_id(self, kind: str) -> str:
        return dict(_setting("CANTEEN_NOTIFY_WECHAT_TEMPLATES", {}) or {}).get(kind) or _setting(
            "CANTEEN_NOTIFY_WECHAT_TEMPLATE", ""
        )

    def address(self, recipient: Any, extra: dict[str, list[str]]) -> str:
        if extra.get(self.name):
            return extra[self.name][0]
        # The openid comes from the guardian's WeChat binding (ledger.payments, loaded with the
        # other addresses in notify.services._addresses) or from notify.Address(channel="wechat").
        return ""

    def _base(self) -> str:
        return str(_setting("CANTEEN_NOTIFY_WECHAT_URL", "https://api.weixin.qq.com")).rstrip("/")

    def _cache_key(self) -> str:
        return f"notify:wechat:token:{_setting('CANTEEN_NOTIFY_WECHAT_APPID')}"

    def access_token(self) -> str | Outcome:
        token = cache.get(self._cache_key())
        if token:
            return token
        query = parse.urlencode(
            {
                "grant_type": "client_credential",
                "appid": _setting("CANTEEN_NOTIFY_WECHAT_APPID"),
                "secret": _setting("CANTEEN_NOTIFY_WECHAT_SECRET"),
            }
        )
        try:
            status, reply = _http("GET", f"{self._base()}/cgi-bin/token?{query}")
        except OSError as exc:
            return _network(exc)
        if status >= 500:
            return Retry(f"token http {status}")
        token = reply.get("access_token")
        if not token:
            code = reply.get("errcode")
            return Retry(f"token errcode {code}") if code in (-1, 45009) else Failed(f"wechat_token_{code}")
        ttl = max(60, int(reply.get("expires_in", 7200)) - 300)
        cache.set(self._cache_key(), token, ttl)
        return token

    def send(self, delivery: Any) -> Outcome:
        m = delivery.message
        title, body = _text(delivery)
        payload = {
            "touser": delivery.address,
            "template_id": self.template_id(m.kind),
            "url": _absolute(m.link),
            "data": {
                "first": {"value": title[:20]},
                "keyword1": {"value": body[:200]},
                "keyword2": {"value": m.created_at.astimezone().strftime("%Y-%m-%d %H:%M")},
                "remark": {"value": m.title_en[:20]},
            },
        }
        for _attempt in range(2):  # a stale token is refreshed once at once
            token = self.access_token()
            if not isinstance(token, str):
                return token
            url = f"{self._base()}/cgi-bin/message/template/send?access_token={parse.quote(token)}"
            try:
                status, reply = _http("POST", url, payload)
            except OSError as exc:
                return _network(exc)
            if status >= 500:
                return Retry(f"http {status}")
            code = reply.get("errcode")
            if code == 0:
                return Sent(str(reply.get("msgid", "")))
            if code in self.TOKEN_ERRORS:
                cache.delete(self._cache_key())
                continue
            if code in self.PERMANENT:
                return Failed(f"wechat_{code}")
            if code in (-1, 45009):
                return Retry(f"wechat {code}", after_seconds=60 if code == 45009 else None)
            return Failed(f"wechat_{code if code is not None else status}")
        return Retry("wechat token rejected twice")


# -------------------------------------------------------------------------- SMS (Alibaba Cloud)


def _pct(value: str) -> str:
    # Alibaba Cloud's percent-encoding: RFC 3986, space as %20, "~" kept, "*" encoded.
    return parse.quote(value, safe="~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    """Signature version 1.0 of Alibaba Cloud's RPC APIs (documented "Request signatures")."""
    canonical = "&".join(f"{_pct(k)}={_pct(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{_pct('/')}&{_pct(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class SmsChannel:
    name = Channel.SMS
    RETRY_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "ServiceUnavailable"})

    def configured(self) -> tuple[bool, str]:
        missing = [
            n
            for n in (
                "CANTEEN_NOTIFY_SMS_ACCESS_KEY_ID",
                "CANTEEN_NOTIFY_SMS_ACCESS_KEY_SECRET",
                "CANTEEN_NOTIFY_SMS_SIGN_NAME",
            )
            if not _setting(n)
        ]
        if missing:
            return False, " / ".join(missing) + " not set"
        return True, f"Alibaba Cloud SMS, sign {_setting('CANTEEN_NOTIFY_SMS_SIGN_NAME')}"

    def template_code(self, kind: str) -> str:
        return dict(_setting("CANTEEN_NOTIFY_SMS_TEMPLATES", {}) or {}).get(kind) or _setting(
            "CANTEEN_NOTIFY_SMS_TEMPLATE", ""
        )

    def address(self, recipient: Any, extra: dict[str, list[str]]) -> str:
        if recipient.mobile:
            return recipient.mobile
        if extra.get(self.name):
            return extra[self.name][0]
        for holder in (recipient.guardian, recipient.user):
            phone = getattr(holder, "phone", "") if holder is not None else ""
            if phone:
                return phone
        return ""

    def send(self, delivery: Any) -> Outcome:
        m = delivery.message
        code = self.template_code(m.kind)
        if not code:
            return Failed("sms_no_template")
        # Template variables: the message context's plain values (the text lives at the provider).
        variables = {k: str(v)[:35] for k, v in m.context.items() if not k.startswith("_") and isinstance(v, str | int)}
        params = {
            "AccessKeyId": _setting("CANTEEN_NOTIFY_SMS_ACCESS_KEY_ID"),
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": str(delivery.pk),
            "PhoneNumbers": delivery.address,
            "RegionId": _setting("CANTEEN_NOTIFY_SMS_REGION", "cn-hangzhou"),
            "SignName": _setting("CANTEEN_NOTIFY_SMS_SIGN_NAME"),
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": code,
            "TemplateParam": json.dumps(variables, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        signature = aliyun_signature(params, _setting("CANTEEN_NOTIFY_SMS_ACCESS_KEY_SECRET"))
        query = f"Signature={_pct(signature)}&" + "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(params.items()))
        base = str(_setting("CANTEEN_NOTIFY_SMS_URL", "https://dysmsapi.aliyuncs.com")).rstrip("/")
        try:
            status, reply = _http("GET", f"{base}/?{query}")
        except OSError as exc:
            return _network(exc)
        result = str(reply.get("Code", ""))
        if result == "OK":
            return Sent(str(reply.get("BizId", "")))
        if status >= 500 or result.startswith("isp.") or result in self.RETRY_CODES:
            return Retry(f"sms {status} {result}"[:300], after_seconds=60 if "LIMIT" in result else None)
        return Failed(f"sms_{result or status}"[:120])


CHANNELS: dict[str, Any] = {
    Channel.EMAIL: EmailChannel(),
    Channel.WECOM: WecomChannel(),
    Channel.WECHAT: WechatChannel(),
    Channel.SMS: SmsChannel(),
}


def channel_status() -> list[dict[str, Any]]:
    rows = [{"channel": Channel.INBOX, "label": Channel.INBOX.label, "on": True, "detail": "always"}]
    for name, channel in CHANNELS.items():
        on, detail = channel.configured()
        rows.append({"channel": name, "label": Channel(name).label, "on": on, "detail": detail})
    return rows
