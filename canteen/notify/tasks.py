"""Periodic jobs of the notification service (run by `canteen worker`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from canteen.core.worker import periodic
from canteen.org.choices import Role

from . import recipients, rules
from .choices import Kind
from .services import deliveries_send, notice_send, outbox_consume


@periodic(seconds=1, name="notify.dispatch")
def dispatch() -> str:
    """Read new events, then send what is due: a notice is out within a tick or two."""
    ran = outbox_consume()
    counts = deliveries_send()
    while counts["sent"] + counts["retry"] + counts["dead"] >= 500:  # a backlog: keep going
        more = deliveries_send()
        counts = {k: counts[k] + more[k] for k in counts}
        if not sum(more.values()):
            break
    return f"{ran} rules run, {counts['sent']} sent, {counts['retry']} to retry, {counts['dead']} dead"


def case_deadlines_check(*, now: datetime | None = None) -> int:
    """Cases assigned to a school: due within 24 h → the school; overdue → the school, and
    escalated to the district; overdue past the red-flag time → escalated to the city too.
    Each notice once per case and deadline (a returned case gets a new deadline, so new ones)."""
    from canteen.supervision.choices import CaseStatus
    from canteen.supervision.models import Case
    from canteen.supervision.services import RED_AFTER_HOURS

    now = now or timezone.now()
    made = 0
    cases = Case.objects.filter(
        status=CaseStatus.ASSIGNED, deadline__isnull=False, deadline__lte=now + timedelta(hours=24)
    ).select_related("district", "school", "campus")
    for case in cases:
        org = {"district": case.district_id, "school": case.school_id, "campus": case.campus_id}
        key = f"case:{case.pk}:{case.deadline.isoformat()}"
        link = rules._url("supervision:case-detail", case.pk)
        context = rules.case_context(case)
        if case.deadline > now:
            made += len(
                notice_send(
                    kind=Kind.CASE_DUE_SOON,
                    recipients=rules.case_parties(case),
                    context=context,
                    dedupe_key=f"{key}:due",
                    link=link,
                    org=org,
                    now=now,
                )
            )
            continue
        made += len(
            notice_send(
                kind=Kind.CASE_OVERDUE,
                recipients=rules.case_parties(case),
                context=context,
                dedupe_key=f"{key}:overdue",
                link=link,
                org=org,
                now=now,
            )
        )
        level = {"level": case.school.name if case.school else "", "level_en": "the school"}
        district = recipients.staff(roles={Role.DISTRICT_REGULATOR}, district_id=case.district_id)
        made += len(
            notice_send(
                kind=Kind.CASE_ESCALATED,
                recipients=district,
                context={**context, **level},
                dedupe_key=f"{key}:to-district",
                link=link,
                org=org,
                now=now,
            )
        )
        if now - case.deadline > timedelta(hours=RED_AFTER_HOURS):
            city = recipients.staff(roles={Role.CITY_REGULATOR}, city_id=case.district.city_id)
            level = {"level": case.district.name, "level_en": "the district"}
            made += len(
                notice_send(
                    kind=Kind.CASE_ESCALATED,
                    recipients=city,
                    context={**context, **level},
                    dedupe_key=f"{key}:to-city",
                    link=link,
                    org=org,
                    now=now,
                )
            )
    return made


@periodic(seconds=300, name="notify.case_deadlines")
def sweep_case_deadlines() -> str:
    return f"{case_deadlines_check()} case notices"
