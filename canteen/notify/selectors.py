"""Reads of the notification service, scoped to the actor."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from canteen.core.i18n import tr
from canteen.org.choices import Role

from .choices import DeliveryStatus
from .models import Delivery, Message

DEAD_STATUSES = (DeliveryStatus.DEAD, DeliveryStatus.FAILED)


def inbox(*, actor: Any) -> QuerySet[Message]:
    """The actor's own messages, newest first (guardians: those about their children)."""
    return Message.objects.filter(user=actor)


def unread_count(*, actor: Any) -> int:
    if not getattr(actor, "is_authenticated", False):
        return 0
    return Message.objects.filter(user=actor, read_at__isnull=True).count()


def dead_letters(*, actor: Any) -> QuerySet[Delivery]:
    """Deliveries given up on (retries spent, or refused by the provider), in the actor's scope."""
    return Delivery.objects.visible_to(actor).filter(status__in=DEAD_STATUSES).select_related("message")


def delivery_counts(*, actor: Any) -> dict[str, int]:
    from django.db.models import Count

    rows = Delivery.objects.visible_to(actor).values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def todo_for(actor: Any, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """What needs this person now, most urgent first: the state of every loop that closes
    (open cold-chain and missing-record cases, recalls, cases due, overdue or escalated to the
    actor's level, kitchen alarms not yet handled, dead-lettered messages). Each item is
    {"kind", "text", "url", "at", "urgent"}. For the role home pages."""
    from canteen.supervision.choices import CaseStatus
    from canteen.supervision.models import Case

    now = now or timezone.now()
    role = getattr(actor, "role", "")
    items: list[dict[str, Any]] = []
    if not getattr(actor, "is_authenticated", False) or role in ("", Role.GUARDIAN, Role.SUPPLIER_USER):
        unread = unread_count(actor=actor)
        if unread:
            items.append(
                {
                    "kind": "inbox",
                    "text": tr(f"{unread} 条未读消息", f"{unread} unread message(s)"),
                    "url": _url("notify:inbox"),
                    "at": now,
                    "urgent": False,
                }
            )
        return items
    cases = Case.objects.visible_to(actor).exclude(status=CaseStatus.CLOSED).select_related("school", "campus")
    if role in (Role.DISTRICT_REGULATOR, Role.CITY_REGULATOR):
        # Escalated: overdue at the school (district) or overdue long enough to be red (city).
        from canteen.supervision.services import RED_AFTER_HOURS

        late = now if role == Role.DISTRICT_REGULATOR else now - timedelta(hours=RED_AFTER_HOURS)
        for case in cases.filter(status=CaseStatus.ASSIGNED, deadline__lt=late).order_by("deadline")[:20]:
            items.append(
                {
                    "kind": "escalated",
                    "text": tr(
                        f"逾期上报：{case.number} {case.title}", f"Escalated overdue: {case.number} {case.title}"
                    ),
                    "url": _url("supervision:case-detail", case.pk),
                    "at": case.deadline,
                    "urgent": True,
                }
            )
        for case in cases.filter(status=CaseStatus.RESPONDED).order_by("responded_at")[:20]:
            items.append(
                {
                    "kind": "review",
                    "text": tr(f"待复核：{case.number} {case.title}", f"To review: {case.number} {case.title}"),
                    "url": _url("supervision:case-detail", case.pk),
                    "at": case.responded_at,
                    "urgent": False,
                }
            )
        for case in cases.filter(status=CaseStatus.OPENED).order_by("created_at")[:20]:
            items.append(
                {
                    "kind": "assign",
                    "text": tr(f"待交办：{case.title}", f"To assign: {case.title}"),
                    "url": _url("supervision:case-detail", case.pk),
                    "at": case.created_at,
                    "urgent": case.severity == "high",
                }
            )
    else:
        for case in cases.filter(status=CaseStatus.ASSIGNED).order_by("deadline")[:30]:
            overdue = bool(case.deadline and case.deadline < now)
            soon = bool(case.deadline and not overdue and case.deadline < now + timedelta(hours=24))
            label_zh = "已逾期" if overdue else "24小时内到期" if soon else "待整改"
            label_en = "Overdue" if overdue else "Due within 24 h" if soon else "To respond"
            items.append(
                {
                    "kind": "case",
                    "text": tr(f"{label_zh}：{case.number} {case.title}", f"{label_en}: {case.number} {case.title}"),
                    "url": _url("supervision:case-detail", case.pk),
                    "at": case.deadline,
                    "urgent": overdue or soon,
                }
            )
        from canteen.kitchen.choices import AlarmStatus
        from canteen.kitchen.models import Alarm

        for alarm in Alarm.objects.visible_to(actor).filter(status=AlarmStatus.OPEN).order_by("-at")[:10]:
            items.append(
                {
                    "kind": "alarm",
                    "text": tr(f"未处理的视频告警：{alarm.kind}", f"Open video alarm: {alarm.kind}"),
                    "url": _url("kitchen:alarms"),
                    "at": alarm.at,
                    "urgent": True,
                }
            )
        from canteen.kitchen.models import MissingRecordAlert

        since = timezone.localdate(now) - timedelta(days=2)
        for alert in MissingRecordAlert.objects.visible_to(actor).filter(day__gte=since)[:10]:
            items.append(
                {
                    "kind": "record_missing",
                    "text": tr(
                        f"记录缺失：{alert.get_kind_display()} {alert.day}",
                        f"Missing record: {alert.get_kind_display()} {alert.day}",
                    ),
                    "url": _url("kitchen:records"),
                    "at": timezone.make_aware(datetime.combine(alert.day, datetime.min.time())),
                    "urgent": False,
                }
            )
    dead = dead_letters(actor=actor).count() if role != Role.WINDOW_OPERATOR else 0
    if dead:
        items.append(
            {
                "kind": "dead_letters",
                "text": tr(f"{dead} 条消息投递失败", f"{dead} message(s) could not be delivered"),
                "url": _url("notify:dead-letters"),
                "at": now,
                "urgent": False,
            }
        )
    unread = unread_count(actor=actor)
    if unread:
        items.append(
            {
                "kind": "inbox",
                "text": tr(f"{unread} 条未读消息", f"{unread} unread message(s)"),
                "url": _url("notify:inbox"),
                "at": now,
                "urgent": False,
            }
        )
    items.sort(key=lambda i: (not i["urgent"], i["at"] or now))
    return items
