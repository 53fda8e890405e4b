"""Payment providers for online top-ups.

A provider creates a payment for a TopUpOrder, later calls us back with a signed notification,
and publishes a daily settlement file. `DemoProvider` is a real, in-process implementation of
that contract for the demo and the tests: it keeps its own records (DemoProviderCharge), signs
notifications with HMAC-SHA256 and writes settlement CSVs; a real provider (WeChat Pay, Alipay,
UnionPay) implements the same three methods.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
from datetime import date
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import DemoProviderCharge, TopUpOrder


class PaymentProvider(Protocol):
    name: str

    def checkout_url(self, order: TopUpOrder) -> str: ...

    def verify(self, body: dict[str, Any], signature: str) -> bool: ...

    def settlement_csv(self, day: date) -> str: ...


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class DemoProvider:
    name = "demo"

    def __init__(self, secret: str | None = None) -> None:
        self.secret = (secret or getattr(settings, "CANTEEN_DEMO_PROVIDER_SECRET", "") or settings.SECRET_KEY).encode()

    def sign(self, body: dict[str, Any]) -> str:
        return hmac.new(self.secret, canonical(body), hashlib.sha256).hexdigest()

    def verify(self, body: dict[str, Any], signature: str) -> bool:
        return hmac.compare_digest(self.sign(body), signature or "")

    def checkout_url(self, order: TopUpOrder) -> str:
        from django.urls import reverse

        return reverse("ledger:demo-pay", kwargs={"out_trade_no": order.out_trade_no})

    def pay(self, order: TopUpOrder) -> tuple[dict[str, Any], str]:
        """The payer confirmed at the provider: record the charge on the provider's side (once)
        and return the signed notification it sends to the merchant."""
        with transaction.atomic():
            charge, _ = DemoProviderCharge.objects.get_or_create(
                out_trade_no=order.out_trade_no,
                defaults={
                    "txn_id": "DEMO" + secrets.token_hex(10).upper(),
                    "amount_fen": order.amount_fen,
                    "paid_at": timezone.now(),
                    "settlement_date": timezone.localdate(),
                },
            )
        body = {
            "out_trade_no": charge.out_trade_no,
            "txn_id": charge.txn_id,
            "amount_fen": charge.amount_fen,
            "paid_at": charge.paid_at.isoformat(),
            "status": "SUCCESS",
        }
        return body, self.sign(body)

    def settlement_csv(self, day: date) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["txn_id", "out_trade_no", "amount_yuan", "paid_at"])
        for charge in DemoProviderCharge.objects.filter(settlement_date=day).order_by("id"):
            whole, fen = divmod(charge.amount_fen, 100)
            writer.writerow([charge.txn_id, charge.out_trade_no, f"{whole}.{fen:02d}", charge.paid_at.isoformat()])
        return out.getvalue()


class ExternalProvider:
    """A real provider (WeChat Pay, Alipay; canteen.ledger.payments): its orders are started by
    payments.orders and paid on the payer's own page; its notifications come in on the raw-body
    endpoint, never through the demo's dict-and-signature path."""

    def __init__(self, name: str) -> None:
        self.name = name

    def checkout_url(self, order: TopUpOrder) -> str:
        from django.urls import reverse

        return reverse("ledger:topup-pay", kwargs={"out_trade_no": order.out_trade_no})

    def verify(self, body: dict[str, Any], signature: str) -> bool:
        return False

    def settlement_csv(self, day: date) -> str:
        raise NotImplementedError("real providers' bills are downloaded by payments.bills")


PROVIDERS: dict[str, Any] = {
    "demo": DemoProvider,
    "wechat": lambda: ExternalProvider("wechat"),
    "alipay": lambda: ExternalProvider("alipay"),
}


def provider_for(name: str) -> DemoProvider:
    from .payments.registry import is_registered

    cls = PROVIDERS.get(name)
    # Production never registers the demo provider (payments.registry): no order, notification
    # or pay page of it is accepted there.
    if cls is None or not is_registered(name):
        from .errors import InvalidAmount

        raise InvalidAmount("未知支付渠道", "Unknown payment provider", code="unknown_provider")
    return cls()
