"""System checks of the payment configuration (run by `manage.py check`; --deploy adds the
deploy-tagged ones)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from .registry import DEMO, KNOWN

DEMO_CONFIGURED = "ledger.E001"
UNKNOWN_PROVIDER = "ledger.E002"


@register(Tags.security, deploy=True)
def demo_provider_not_deployed(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A deployment that names the demo provider would let a guardian top up without paying."""
    configured = list(getattr(settings, "CANTEEN_PAYMENT_PROVIDERS", []))
    if DEMO in configured or getattr(settings, "CANTEEN_DEMO_PAYMENTS", False):
        return [
            Error(
                "The demo payment provider is configured: guardians could top up wallets without paying.",
                hint=(
                    "Remove 'demo' from CANTEEN_PAYMENT_PROVIDERS and set CANTEEN_DEMO_PAYMENTS off "
                    "(canteen.settings.production does); take top-ups through 'wechat' or 'alipay'."
                ),
                id=DEMO_CONFIGURED,
            )
        ]
    return []


@register()
def providers_known(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    unknown = [name for name in getattr(settings, "CANTEEN_PAYMENT_PROVIDERS", []) if name not in KNOWN]
    if unknown:
        return [
            Error(
                f"Unknown payment provider(s) in CANTEEN_PAYMENT_PROVIDERS: {', '.join(unknown)}",
                hint=f"Known providers: {', '.join(KNOWN)}",
                id=UNKNOWN_PROVIDER,
            )
        ]
    return []
