"""API tokens and second-factor devices: issue, authenticate, revoke (audited)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from canteen.core.audit import audit_record
from canteen.core.errors import NotFound, ValidationFailed

from .models import ApiToken

TOKEN_PREFIX_LEN = 10
# last_used_at is written at most this often: a script polling every second costs no write each.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_issue(*, user: Any, name: str = "", ttl: timedelta | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`; the key is returned once and stored only as a hash."""
    if ttl is None:
        ttl = timedelta(hours=settings.CANTEEN_API_TOKEN_TTL_HOURS)
    live = ApiToken.objects.live().filter(user=user).count()
    if live >= settings.CANTEEN_API_TOKENS_PER_USER:
        raise ValidationFailed(
            "有效令牌过多，请先撤销不用的令牌",
            "Too many live tokens; revoke one you no longer use",
            details={"live": live, "max": settings.CANTEEN_API_TOKENS_PER_USER},
        )
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:60],
        prefix=key[:TOKEN_PREFIX_LEN],
        key_hash=_hash(key),
        expires_at=timezone.now() + ttl,
    )
    audit_record(actor=user, action="accounts.token_issued", target=token, after={"expires_at": str(token.expires_at)})
    return token, key


def token_authenticate(*, key: str) -> ApiToken | None:
    """The live token with this key, or None (unknown, revoked, expired or inactive user)."""
    if len(key) < TOKEN_PREFIX_LEN + 8:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=key[:TOKEN_PREFIX_LEN]).first()
    if token is None or not hmac.compare_digest(token.key_hash, _hash(key)):
        return None
    if not token.is_live or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke(*, actor: Any, token_id: Any) -> ApiToken:
    """The owner revokes one of their tokens."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
        if token is None:
            raise NotFound()
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.revoked_reason = "owner"
            token.save(update_fields=["revoked_at", "revoked_reason", "updated_at"])
            audit_record(actor=actor, action="accounts.token_revoked", target=token)
    return token


def tokens_revoke_all(*, user: Any, reason: str) -> int:
    """Every live token of `user` (a password change: whoever held the old one loses access)."""
    count = ApiToken.objects.live().filter(user=user).update(revoked_at=timezone.now(), revoked_reason=reason[:40])
    if count:
        audit_record(
            actor=user, action="accounts.tokens_revoked", target=user, after={"count": count, "reason": reason}
        )
    return count


def totp_device_of(user: Any, *, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("id").first()


def totp_device_start(*, user: Any) -> TOTPDevice:
    """The unconfirmed device a user is setting up (one at a time): its key is shown once."""
    device = totp_device_of(user, confirmed=False)
    return device or TOTPDevice.objects.create(user=user, name="TOTP", confirmed=False)


def totp_verify(*, user: Any, token: str, confirm: bool = False) -> TOTPDevice | None:
    """The user's device that accepts `token` (its confirmed one; or, with confirm=True, the one
    being set up, which is then confirmed), or None. django-otp throttles repeated failures."""
    token = (token or "").strip().replace(" ", "")
    if not token.isdigit() or len(token) > 8:
        return None
    device = totp_device_of(user, confirmed=not confirm)
    if device is None or not device.verify_token(token):
        return None
    if confirm:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(actor=user, action="accounts.totp_confirmed", target=user)
    return device
