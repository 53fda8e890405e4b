"""Periodic jobs of consumption (run by `canteen worker`)."""

from __future__ import annotations

from canteen.core.worker import periodic

from .models import ChargeStatus, MealRecord, RecordStatus
from .services import meal_record_settle


@periodic(seconds=300, name="consumption.settle_unpaid")
def settle_unpaid() -> str:
    """Retry the charge of meals served offline beyond the balance (same ledger key: at most
    one charge); after a guardian's top-up they settle."""
    unpaid = MealRecord.objects.filter(charge_status=ChargeStatus.UNPAID, status=RecordStatus.SERVED)
    settled = 0
    for record in unpaid.order_by("served_at")[:500]:
        settled += meal_record_settle(record=record).charge_status == ChargeStatus.CHARGED
    return f"settled {settled} unpaid meal(s)"
