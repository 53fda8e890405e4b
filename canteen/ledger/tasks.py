"""Periodic ledger jobs (run by `canteen worker`); each is idempotent."""

from __future__ import annotations

from django.utils import timezone

from canteen.core.worker import periodic
from canteen.org.models import District

from .services import is_school_day, subsidy_grant_bulk


@periodic(seconds=3600, name="ledger.nutrition_subsidy_today")
def grant_todays_subsidy() -> str:
    """Grant today's nutrition allowance; students already granted today are skipped."""
    today = timezone.localdate()
    if not is_school_day(today):
        return "not a school day"
    granted = 0
    for district in District.objects.all():
        granted += subsidy_grant_bulk(district=district, day=today, actor=None).granted_fen
    return f"granted {granted} fen"


from .payments import tasks as payment_tasks  # noqa: E402, F401  (registers the payment jobs)
