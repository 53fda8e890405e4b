"""Periodic jobs of procurement (run by `canteen worker`); they only wrap services."""

from canteen.core.worker import periodic

from .services import licence_alerts_raise


@periodic(seconds=3600, name="procurement.licence_alerts")
def licence_alerts() -> str:
    raised = licence_alerts_raise()
    return f"licence alerts: {raised['expiring']} expiring, {raised['expired']} expired"
