"""Which payment providers this deployment takes: `CANTEEN_PAYMENT_PROVIDERS`, less the demo
provider wherever `CANTEEN_DEMO_PAYMENTS` is off (production)."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404

DEMO = "demo"
WECHAT = "wechat"
ALIPAY = "alipay"
KNOWN = (DEMO, WECHAT, ALIPAY)

LABELS = {
    DEMO: ("演示支付", "Demo payment"),
    WECHAT: ("微信支付", "WeChat Pay"),
    ALIPAY: ("支付宝", "Alipay"),
}


def demo_allowed() -> bool:
    return bool(getattr(settings, "CANTEEN_DEMO_PAYMENTS", False))


def registered() -> list[str]:
    """The providers that take payments here, in the configured order."""
    names = []
    for name in getattr(settings, "CANTEEN_PAYMENT_PROVIDERS", []):
        if name not in KNOWN or name in names:
            continue
        if name == DEMO and not demo_allowed():
            continue
        names.append(name)
    return names


def is_registered(name: str) -> bool:
    return name in registered()


def require(name: str) -> None:
    """For views of one provider (the demo's pay page): 404 where it is not registered."""
    if not is_registered(name):
        raise Http404


def default_provider() -> str | None:
    names = registered()
    return names[0] if names else None
