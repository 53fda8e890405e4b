"""Periodic ledger jobs (run by `canteen worker`); each is idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from canteen.core.errors import DomainError
from canteen.core.worker import periodic
from canteen.org.models import Campus, District

from .services import subsidy_grant_bulk

log = logging.getLogger("canteen.ledger")


@periodic(seconds=3600, name="ledger.nutrition_subsidy_today")
def grant_todays_subsidy() -> str:
    """Grant today's allowances in every district with school today (schoolcalendar); pupils
    already granted today are skipped."""
    today = timezone.localdate()
    granted = 0
    skipped = []
    for district in District.objects.all():
        try:
            granted += subsidy_grant_bulk(district=district, day=today, actor=None).granted_fen
        except DomainError as exc:  # no school today, or a year beyond the holiday data
            skipped.append(f"{district.code}: {exc.code}")
            if exc.code != "not_school_day":
                log.error("subsidy grant for %s on %s: %s", district.code, today, exc)
    return f"granted {granted} fen" + (f"; skipped {', '.join(skipped)}" if skipped else "")


@periodic(seconds=3600, name="ledger.subsidy_term_end_return")
def return_subsidy_after_term_end() -> str:
    """After a term ends (in the last week), pupils' unspent subsidy goes back to its funds."""
    from canteen.schoolcalendar.choices import EntryKind
    from canteen.schoolcalendar.models import CalendarEntry

    from .subsidies import subsidy_return_unspent

    today = timezone.localdate()
    returned = 0
    ended = CalendarEntry.objects.filter(kind=EntryKind.TERM, end__gte=today - timedelta(days=7), end__lt=today)
    for term in ended:
        campuses = Campus.objects.filter(school__district_id=term.district_id)
        if term.school_id:
            campuses = campuses.filter(school_id=term.school_id)
        for campus_id in campuses.values_list("pk", flat=True):
            returned += sum(
                p.amount_fen for p in subsidy_return_unspent(campus=campus_id, term_end=term.end, actor=None)
            )
    return f"returned {returned} fen"


from .payments import tasks as payment_tasks  # noqa: E402, F401  (registers the payment jobs)
