"""WeChat Official Account OAuth2 web authorization (网页授权, scope snsapi_base): a guardian who
opens the parent pages inside WeChat is sent to WeChat's authorize URL, comes back with a code,
and the code is exchanged (documented HTTP API, sns/oauth2/access_token) for their openid, which
is bound to their account once, while they are signed in. There is no kept Python SDK for this
small API in our dependencies (wechatpayv3 covers payments only), so it is two documented calls."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.db import IntegrityError, transaction

from canteen.core.audit import audit_record
from canteen.core.errors import Conflict

from .errors import MerchantMisconfigured, ProviderUnavailable
from .merchants import read_secret
from .models import GuardianWeChatBinding, Merchant


class BindingRefused(Conflict):
    code = "wechat_binding_refused"
    message_zh = "该微信已绑定其他账号，或本账号已绑定其他微信"
    message_en = "This WeChat account is bound to another user, or this user to another WeChat account"


def authorize_url(*, merchant: Merchant, redirect_uri: str, state: str) -> str:
    appid = merchant.sub_app_id or merchant.app_id
    query = urlencode(
        {"appid": appid, "redirect_uri": redirect_uri, "response_type": "code", "scope": "snsapi_base", "state": state}
    )
    return f"{settings.CANTEEN_WECHAT_OPEN_BASE.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


def openid_for_code(*, merchant: Merchant, code: str) -> str:
    secret = read_secret(merchant.credentials_ref, "official_account_secret")
    if not secret:
        raise MerchantMisconfigured(
            details={"credentials_ref": merchant.credentials_ref, "missing": ["official_account_secret"]}
        )
    try:
        answer = requests.get(
            f"{settings.CANTEEN_WECHAT_API_BASE.rstrip('/')}/sns/oauth2/access_token",
            params={
                "appid": merchant.sub_app_id or merchant.app_id,
                "secret": secret,
                "code": code,
                "grant_type": "authorization_code",
            },
            timeout=10,
        )
        body = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(details={"call": "oauth2.access_token"}) from exc
    if body.get("errcode") or not body.get("openid"):
        raise ProviderUnavailable(
            "微信授权失败",
            "WeChat authorization failed",
            details={"errcode": body.get("errcode"), "errmsg": body.get("errmsg", "")[:80]},
        )
    return str(body["openid"])


def guardian_openid_bind(*, user: Any, app_id: str, openid: str) -> GuardianWeChatBinding:
    """Bind once: the same openid again is fine; another openid for this user, or this openid
    for another user, is refused (a guardian rebinds through the office, which removes the row)."""
    existing = GuardianWeChatBinding.objects.filter(user=user, app_id=app_id).first()
    if existing is not None:
        if existing.openid != openid:
            raise BindingRefused()
        return existing
    try:
        with transaction.atomic():
            binding = GuardianWeChatBinding.objects.create(user=user, app_id=app_id, openid=openid)
            audit_record(actor=user, action="ledger.wechat_openid_bound", target=binding, after={"app_id": app_id})
    except IntegrityError as exc:
        raise BindingRefused() from exc
    return binding


def openid_of(*, user: Any, merchant: Merchant) -> str:
    app_id = merchant.sub_app_id or merchant.app_id
    return GuardianWeChatBinding.objects.filter(user=user, app_id=app_id).values_list("openid", flat=True).first() or ""
