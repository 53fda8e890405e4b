"""Periodic payment jobs (registered through canteen.ledger.tasks; run by `canteen worker`).
Each is idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from canteen.core.worker import periodic

from ..models import Reconciliation
from . import registry
from .channels import REAL
from .errors import ProviderUnavailable

log = logging.getLogger("canteen.ledger.payments")
# WeChat Pay publishes the previous day's bill from 10:00 (Beijing time).
BILL_READY_HOUR = 10


@periodic(seconds=60, name="ledger.payments_sweep")
def payments_sweep() -> str:
    """Orders whose notification is late or lost are queried (and credited or closed); refunds
    not yet sent are resent, processing ones queried."""
    if not any(registry.is_registered(name) for name in REAL):
        return "no real provider"
    from .orders import topup_orders_sweep
    from .refunds import refunds_sweep

    return f"orders {topup_orders_sweep()} refunds {refunds_sweep()}"


@periodic(seconds=1800, name="ledger.payments_reconcile_yesterday")
def reconcile_yesterday() -> str:
    """Each morning, once the bills are out: reconcile yesterday for every merchant not yet done."""
    names = [name for name in REAL if registry.is_registered(name)]
    if not names:
        return "no real provider"
    from .bills import provider_reconcile_day
    from .models import Merchant

    now = timezone.localtime()
    if now.hour < BILL_READY_HOUR:
        return "bills not out yet"
    day = now.date() - timedelta(days=1)
    done = failed = 0
    for merchant in Merchant.objects.filter(provider__in=names, active=True):
        if Reconciliation.objects.filter(merchant=merchant, settlement_date=day).exists():
            continue
        try:
            provider_reconcile_day(merchant=merchant, day=day)
            done += 1
        except ProviderUnavailable:
            failed += 1  # tried again on the next run
    return f"reconciled {done}, unavailable {failed}"
