"""The home page's to-do items of supervision: for a regulator the cases to hand out, to review
and those past their deadline; for the school the cases it must answer, soonest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from canteen.core.i18n import tr
from canteen.core.todo import INFO, URGENT, WARN, Todo
from canteen.org.choices import REGULATOR_ROLES

from .choices import CaseStatus
from .selectors import cases_visible

SCHOOL_ROLES = {"school_admin", "canteen_manager"}
SHOWN = 5


def todo_items(actor: Any) -> list[Todo]:
    role = getattr(actor, "role", "")
    now = timezone.now()
    cases = cases_visible(actor=actor)
    listing = reverse("supervision:case-list")
    items: list[Todo] = []
    if role in REGULATOR_ROLES or actor.is_superuser:
        overdue = cases.filter(status=CaseStatus.ASSIGNED, deadline__lt=now).count()
        responded = cases.filter(status=CaseStatus.RESPONDED).count()
        opened = cases.filter(status=CaseStatus.OPENED).count()
        if overdue:
            items.append(
                Todo(
                    tr(f"{overdue} 件整改已超过期限", f"{overdue} cases past their deadline"),
                    f"{listing}?{urlencode({'status': CaseStatus.ASSIGNED})}",
                    URGENT,
                    overdue,
                    kind="supervision.cases_overdue",
                )
            )
        if responded:
            items.append(
                Todo(
                    tr(f"{responded} 件整改待复核", f"{responded} responses to review"),
                    f"{listing}?{urlencode({'status': CaseStatus.RESPONDED})}",
                    WARN,
                    responded,
                    kind="supervision.cases_to_review",
                )
            )
        if opened:
            items.append(
                Todo(
                    tr(f"{opened} 个问题待交办", f"{opened} cases to assign"),
                    f"{listing}?{urlencode({'status': CaseStatus.OPENED})}",
                    INFO,
                    opened,
                    kind="supervision.cases_to_assign",
                )
            )
    if role in SCHOOL_ROLES:
        for case in cases.filter(status=CaseStatus.ASSIGNED).order_by("deadline")[:SHOWN]:
            soon = case.deadline is not None and case.deadline < now + timedelta(days=1)
            deadline = timezone.localtime(case.deadline).strftime("%m-%d %H:%M") if case.deadline else "—"
            items.append(
                Todo(
                    tr(
                        f"整改单 {case.number}：{case.title}（期限 {deadline}）",
                        f"Case {case.number}: {case.title} (due {deadline})",
                    ),
                    reverse("supervision:case-detail", args=[case.pk]),
                    URGENT if soon else WARN,
                    due=case.deadline,
                    kind="supervision.case_due",
                )
            )
    return items
