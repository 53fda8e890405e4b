"""Merchant accounts and their keys. Keys and certificates are read from files
(CANTEEN_PAYMENT_KEYS_DIR/<credentials_ref>/<name>) or the environment
(CANTEEN_PAY_<REF>_<NAME>, REF and NAME upper-cased with - and . as _), never from the database,
and never logged: the credential objects hide their values from repr, and the SDK is given no
logger (its debug log prints request headers)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from canteen.org.models import Student

from ..choices import MerchantMode
from .errors import MerchantMisconfigured, MerchantMissing
from .models import Merchant

WECHAT_FILES = ("apiclient_key.pem", "cert_serial_no", "apiv3_key", "wechatpay_public_key.pem", "public_key_id")
ALIPAY_FILES = ("app_private_key.pem", "alipay_public_key.pem")


def _env_name(ref: str, name: str) -> str:
    clean = f"{ref}_{name}".upper().replace("-", "_").replace(".", "_")
    return f"CANTEEN_PAY_{clean}"


def read_secret(ref: str, name: str) -> str | None:
    value = os.environ.get(_env_name(ref, name))
    if value:
        return value
    path = Path(settings.CANTEEN_PAYMENT_KEYS_DIR) / ref / name
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return None


def write_credentials(ref: str, files: dict[str, str], directory: str | Path | None = None) -> Path:
    """Install a merchant's key files (what an operator does from the provider's console), 0600."""
    folder = Path(directory or settings.CANTEEN_PAYMENT_KEYS_DIR) / ref
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o600)
    return folder


@dataclass(frozen=True, repr=False)
class WeChatCredentials:
    private_key: str
    cert_serial_no: str
    apiv3_key: str
    public_key: str
    public_key_id: str

    def __repr__(self) -> str:
        return f"WeChatCredentials(cert_serial_no={self.cert_serial_no!r}, <keys hidden>)"


def wechat_credentials(merchant: Merchant) -> WeChatCredentials:
    values = {name: read_secret(merchant.credentials_ref, name) for name in WECHAT_FILES}
    missing = [name for name, value in values.items() if not value]
    if missing:
        # Names only, never values.
        raise MerchantMisconfigured(details={"credentials_ref": merchant.credentials_ref, "missing": missing})
    return WeChatCredentials(*(values[name] for name in WECHAT_FILES))


def merchant_for(*, student: Student, provider: str) -> Merchant:
    """The school's own merchant at that provider, else the district's default."""
    school = student.campus.school
    found = (
        Merchant.objects.filter(provider=provider, active=True, school_id=school.pk).first()
        or Merchant.objects.filter(
            provider=provider, active=True, school__isnull=True, district_id=school.district_id
        ).first()
    )
    if found is None:
        raise MerchantMissing(details={"provider": provider})
    if found.mode == MerchantMode.PARTNER and (provider == "alipay" or not found.sub_mch_id):
        raise MerchantMisconfigured("子商户号未配置", "The sub-merchant number is not configured")
    return found


def notify_url(merchant: Merchant) -> str:
    from django.urls import reverse

    path = reverse("ledger:provider-notify", kwargs={"provider": merchant.provider, "merchant_id": merchant.pk})
    return settings.CANTEEN_PAYMENT_NOTIFY_BASE.rstrip("/") + path
