"""The rules: which domain event becomes which notice, for whom. Each runs in the worker from
the outbox (services.outbox_consume), never inside the fact's own transaction: the checkout,
the top-up and the refund pay nothing for the messages they cause.

Names in messages are masked (张*明): a message leaves the district through a provider."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from canteen.core.events import Event
from canteen.core.i18n import pair_of
from canteen.core.money import Money
from canteen.org.choices import Role

from . import recipients
from .choices import Kind
from .services import Notice, batch_rule, notice_send, notices_send, rule

MOBILE = re.compile(r"^1\d{10}$")


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def masked(name: str) -> str:
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _student(student_id: Any) -> Any:
    from canteen.org.models import Student

    return Student.objects.filter(pk=student_id).select_related("campus__school").first() if student_id else None


def _org(p: dict[str, Any], student: Any = None) -> dict[str, Any]:
    campus_id = p.get("campus_id") or (student.campus_id if student else None)
    school_id = p.get("school_id") or (student.campus.school_id if student else None)
    district_id = p.get("district_id") or (student.campus.school.district_id if student else None)
    if campus_id and not (school_id and district_id):
        from canteen.org.models import Campus

        row = Campus.objects.filter(pk=campus_id).values_list("school_id", "school__district_id").first()
        if row:
            school_id, district_id = school_id or row[0], district_id or row[1]
    return {"campus": campus_id, "school": school_id, "district": district_id}


def _yuan(fen: Any) -> str:
    return str(Money(int(fen))) if fen not in (None, "") else ""


def _when(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%m-%d %H:%M")
    return str(value or "")


def _to_guardians(event: Event, kind: str, key: str, context: dict[str, Any], link: str = "") -> None:
    p = event.payload
    student = _student(p.get("student_id"))
    if student is None:
        return
    notice_send(
        kind=kind,
        recipients=recipients.guardians_of([student.pk]),
        context={"student": masked(student.name), "_student_id": str(student.pk), **context},
        dedupe_key=key,
        link=link,
        org=_org(p, student),
        event_at=event.occurred_at,
    )


# ------------------------------------------------------------------ guardians


@batch_rule("ledger.meal_charged")
def meal_charged(events: list[Event]) -> None:
    """Per meal, only to guardians who opted in, for all the events read in one pass: a few
    statements for hundreds of meals, and one when nobody asked."""
    from canteen.org.models import Guardian, Student

    from .models import Preference

    by_student: dict[str, list[Event]] = {}
    for event in events:
        sid = event.payload.get("student_id")
        if sid:
            by_student.setdefault(str(sid), []).append(event)
    pairs = list(
        Preference.objects.filter(meal_charged=True, guardian__links__student_id__in=list(by_student)).values_list(
            "guardian_id", "guardian__links__student_id"
        )
    )
    if not pairs:
        return
    guardians = {g.pk: g for g in Guardian.objects.filter(pk__in={g for g, _s in pairs}).select_related("user")}
    students = {str(s.pk): s for s in Student.objects.filter(pk__in={s for _g, s in pairs}).only("pk", "name")}
    parents: dict[str, list[recipients.Recipient]] = {}
    for guardian_id, student_id in pairs:
        parents.setdefault(str(student_id), []).append(recipients.of_guardian(guardians[guardian_id]))
    notices = []
    for sid, found in parents.items():
        for event in by_student.get(sid, []):
            p = event.payload
            notices.append(
                Notice(
                    kind=Kind.MEAL_CHARGED,
                    recipients=found,
                    context={
                        "student": masked(students[sid].name),
                        "_student_id": sid,
                        "amount": _yuan(p.get("amount_fen")),
                        "on": str(p.get("on") or "")[5:10],
                    },
                    dedupe_key=f"meal:{p.get('posting_id') or event.id}",
                    org={"campus": p.get("campus_id"), "school": p.get("school_id"), "district": p.get("district_id")},
                    event_at=event.occurred_at,
                )
            )
    notices_send(notices=notices)


@rule("ledger.low_balance")
def low_balance(event: Event) -> None:
    p = event.payload
    _to_guardians(
        event,
        Kind.LOW_BALANCE,
        f"low_balance:{p.get('posting_id') or event.id}",
        {"balance": _yuan(p.get("balance_fen")), "threshold": _yuan(p.get("alert_fen"))},
    )


@rule("ledger.topup_credited")
def topup_credited(event: Event) -> None:
    p = event.payload
    _to_guardians(
        event,
        Kind.TOPUP_CREDITED,
        f"topup:{p.get('order_id') or event.id}",
        {"amount": _yuan(p.get("amount_fen")), "balance": _yuan(p.get("balance_fen"))},
    )


@rule("ledger.refund_succeeded")
def refund_succeeded(event: Event) -> None:
    p = event.payload
    _to_guardians(
        event, Kind.REFUND_SUCCEEDED, f"refund:{p.get('refund_id') or event.id}", {"amount": _yuan(p.get("amount_fen"))}
    )


@rule("ledger.daily_limit_reached")
def daily_limit_reached(event: Event) -> None:
    p = event.payload
    day = timezone.localtime(event.occurred_at).date().isoformat()
    _to_guardians(
        event, Kind.DAILY_LIMIT, f"daily_limit:{p.get('student_id')}:{day}", {"limit": _yuan(p.get("limit_fen"))}
    )


@rule("consumption.allergen_conflict")
def allergen_conflict(event: Event) -> None:
    p = event.payload
    allergens = p.get("allergens") or []
    # Published when the kiosk stops the meal (pending) and again with the staff's answer: the
    # guardian hears of each stage once, in words, never the code.
    from canteen.consumption.models import ConflictResolution

    code = str(p.get("resolution") or ConflictResolution.PENDING)
    try:
        zh, en = pair_of(ConflictResolution(code).label)
    except ValueError:
        zh = en = code
    _to_guardians(
        event,
        Kind.ALLERGEN_CONFLICT,
        f"allergen:{p.get('conflict_id') or p.get('meal_record_id') or event.id}:{code}",
        {"allergens": "、".join(str(a) for a in allergens), "resolution_zh": zh, "resolution_en": en},
    )


@rule("org.verification_code")
def verification_code(event: Event) -> None:
    p = event.payload
    mobile = str(p.get("mobile") or "")
    if not MOBILE.match(mobile):
        return
    minutes = 5
    try:
        expires = datetime.fromisoformat(str(p.get("expires_at")))
        minutes = max(1, round((expires - event.occurred_at).total_seconds() / 60))
    except (TypeError, ValueError):
        pass
    notice_send(
        kind=Kind.VERIFICATION_CODE,
        recipients=[recipients.of_mobile(mobile)],
        context={"code": str(p.get("code") or ""), "minutes": minutes},
        dedupe_key=f"code:{event.id}",
        event_at=event.occurred_at,
    )


@rule("org.student_left")
def student_left(event: Event) -> None:
    """Messages about a child who has left, still waiting to go out, are not sent."""
    from .choices import DeliveryStatus
    from .models import Delivery
    from .services import OPEN_STATUSES

    sid = event.payload.get("student_id")
    if sid:
        Delivery.objects.filter(status__in=OPEN_STATUSES, message__context___student_id=str(sid)).update(
            status=DeliveryStatus.SKIPPED, last_error="student left"
        )


# ------------------------------------------------------------------ canteen manager and school


def _campus_name(campus_id: Any) -> str:
    from canteen.org.models import Campus

    campus = Campus.objects.filter(pk=campus_id).select_related("school").first() if campus_id else None
    return str(campus) if campus else ""


@rule("kitchen.alarm_raised")
def kitchen_alarm(event: Event) -> None:
    from canteen.kitchen.models import Alarm

    p = event.payload
    alarm = Alarm.objects.filter(pk=p.get("alarm_id")).first()
    label = str(p.get("kind") or "")
    try:
        from canteen.supervision.handlers import ALARM_LABELS

        label = ALARM_LABELS.get(label, label.removeprefix("detector:"))
    except ImportError:  # pragma: no cover
        pass
    context: dict[str, Any] = {"campus": _campus_name(p.get("campus_id")), "alarm": label, "at": _when(p.get("at"))}
    if alarm is not None and alarm.snapshot:
        from canteen.kitchen.streaming.config import kitchen_dir

        context["_snapshot_file"] = str(kitchen_dir() / alarm.snapshot)
    notice_send(
        kind=Kind.KITCHEN_ALARM,
        recipients=recipients.school_and_campus(campus_id=p.get("campus_id"), school_id=p.get("school_id")),
        context=context,
        dedupe_key=f"alarm:{p.get('alarm_id') or event.id}",
        link=_url("kitchen:alarm-media", p.get("alarm_id"), "snapshot")
        if alarm and alarm.snapshot
        else _url("kitchen:alarms"),
        org=_org(p),
        event_at=event.occurred_at,
    )


@rule("trace.cold_chain_break")
def cold_chain_in_transit(event: Event) -> None:
    """A break seen while the truck is on its way: the campus knows before it arrives."""
    p = event.payload
    if not p.get("campus_id"):
        return
    delivery = _delivery(p.get("delivery_id"))
    notice_send(
        kind=Kind.COLDCHAIN_BREACH,
        recipients=recipients.school_and_campus(campus_id=p["campus_id"])
        + recipients.staff(roles={Role.STOREKEEPER}, campus_id=p["campus_id"]),
        context={
            "delivery": delivery.number if delivery else "",
            "minutes": delivery.coldchain_minutes if delivery else "",
            "max_c": p.get("worst_c") or "",
        },
        dedupe_key=f"coldchain-transit:{p.get('track_id')}:{p.get('started_at')}",
        org=_org(p),
        event_at=event.occurred_at,
    )


def _delivery(delivery_id: Any) -> Any:
    from canteen.procurement.models import Delivery

    return Delivery.objects.filter(pk=delivery_id).first() if delivery_id else None


@rule("procurement.coldchain_breach")
def coldchain_breach(event: Event) -> None:
    """At acceptance: the managers and the district are told, and a case is opened."""
    from canteen.supervision.choices import CaseSource, Severity
    from canteen.supervision.services import case_open

    p = event.payload
    delivery = _delivery(p.get("delivery_id"))
    org = _org(p)
    minutes = p.get("minutes_out_of_range")
    number = delivery.number if delivery else str(p.get("delivery_id"))[:8]
    case = None
    if org["district"]:
        case, _ = case_open(
            actor=None,
            source=CaseSource.DELIVERY_REJECTED,
            source_ref=f"coldchain:{p.get('delivery_id')}",
            title=f"冷链超温：送货单 {number}（{minutes} 分钟，最高 {p.get('max_c')}℃）",
            description=f"decision={p.get('decision', '')} reason={p.get('reason', '')}",
            district_id=org["district"],
            school_id=org["school"],
            campus_id=org["campus"],
            severity=Severity.HIGH,
        )
    notice_send(
        kind=Kind.COLDCHAIN_BREACH,
        recipients=recipients.school_and_campus(campus_id=org["campus"], school_id=org["school"])
        + recipients.staff(roles={Role.DISTRICT_REGULATOR}, district_id=org["district"]),
        context={"delivery": number, "minutes": minutes, "max_c": p.get("max_c")},
        dedupe_key=f"coldchain:{p.get('delivery_id')}",
        link=_url("supervision:case-detail", case.pk) if case else "",
        org=org,
        event_at=event.occurred_at,
    )


def _recall(event: Event) -> None:
    p = event.payload
    campus_ids = [c for c in (p.get("campus_ids") or []) if c]
    found: list[recipients.Recipient] = []
    districts: set[str] = set()
    from canteen.org.models import Campus

    for campus in Campus.objects.filter(pk__in=campus_ids).select_related("school"):
        found += recipients.school_and_campus(campus_id=campus.pk, school_id=campus.school_id)
        found += recipients.staff(roles={Role.STOREKEEPER}, campus_id=campus.pk)
        districts.add(str(campus.school.district_id))
    if p.get("district_id"):
        districts.add(str(p["district_id"]))
    for district_id in districts:
        found += recipients.staff(roles={Role.DISTRICT_REGULATOR}, district_id=district_id)
    found += recipients.guardians_of(p.get("student_ids") or [])
    notice_send(
        kind=Kind.RECALL,
        recipients=found,
        context={"reason": str(p.get("reason") or ""), "batches": len(p.get("batch_ids") or [])},
        dedupe_key=f"recall:{p.get('recall_id') or event.id}",
        link=_url("trace:recall-list"),
        org={"district": next(iter(districts), None)},
        event_at=event.occurred_at,
    )


# trace.recall_started (issue on traceability) and today's trace.recall_raised carry the same
# recall id: the dedupe key makes the two one notice.
rule("trace.recall_started")(_recall)
rule("trace.recall_raised")(_recall)

RECORD_TEXT = {
    "food_sample": ("留样", "food sample"),
    "morning_check": ("晨检", "morning health check"),
    "disinfection": ("消毒", "disinfection"),
    "accompany": ("陪餐", "accompanied meal"),
}
MEAL_TEXT = {"breakfast": ("早餐", "breakfast"), "lunch": ("午餐", "lunch"), "dinner": ("晚餐", "dinner"), "": ("", "")}


@rule("kitchen.record_missing")
def record_missing(event: Event) -> None:
    p = event.payload
    zh, en = RECORD_TEXT.get(str(p.get("kind")), (str(p.get("kind")), str(p.get("kind"))))
    meal_zh, meal_en = MEAL_TEXT.get(str(p.get("meal") or ""), ("", ""))
    notice_send(
        kind=Kind.RECORD_MISSING,
        recipients=recipients.school_and_campus(campus_id=p.get("campus_id"), school_id=p.get("school_id")),
        context={
            "campus": _campus_name(p.get("campus_id")),
            "day": p.get("day"),
            "meal": meal_zh,
            "meal_en": meal_en,
            "record": zh,
            "record_en": en,
        },
        dedupe_key=f"missing:{p.get('canteen_id')}:{p.get('kind')}:{p.get('day')}:{p.get('meal')}",
        link=_url("kitchen:records"),
        org=_org(p),
        event_at=event.occurred_at,
    )


@rule("procurement.licence_expiring")
def licence_expiring(event: Event) -> None:
    """The district, and the canteens that bought from the supplier in the last 90 days."""
    from datetime import timedelta

    from canteen.procurement.models import PurchaseOrder

    p = event.payload
    since = timezone.now() - timedelta(days=90)
    campus_ids = set(
        PurchaseOrder.objects.filter(supplier_id=p.get("supplier_id"), created_at__gte=since).values_list(
            "campus_id", flat=True
        )
    )
    found = recipients.staff(roles={Role.DISTRICT_REGULATOR}, district_id=p.get("district_id"))
    for campus_id in campus_ids:
        found += recipients.staff(roles={Role.CANTEEN_MANAGER, Role.STOREKEEPER}, campus_id=campus_id)
    notice_send(
        kind=Kind.LICENCE_EXPIRING,
        recipients=found,
        context={
            "supplier": str(p.get("supplier_name") or ""),
            "licence": str(p.get("kind") or ""),
            "expires_on": p.get("expires_on"),
        },
        dedupe_key=f"licence:{p.get('licence_id')}:{p.get('expires_on')}",
        org={"district": p.get("district_id")},
        event_at=event.occurred_at,
    )


# ------------------------------------------------------------------ cases and feedback


def case_context(case: Any) -> dict[str, Any]:
    return {
        "case_number": case.number,
        "title": case.title[:60],
        "deadline": _when(case.deadline) if case.deadline else "",
    }


def case_parties(case: Any) -> list[recipients.Recipient]:
    """The school that must act: its admin, and the campus's canteen manager when the case
    names a campus."""
    return recipients.staff(
        roles={Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER}, campus_id=case.campus_id, school_id=case.school_id
    )


def _case_org(case: Any) -> dict[str, Any]:
    return {"district": case.district_id, "school": case.school_id, "campus": case.campus_id}


@rule("supervision.case_moved")
def case_moved(event: Event) -> None:
    from canteen.supervision.models import Case, CaseStep

    p = event.payload
    case = Case.objects.filter(pk=p.get("case_id")).first()
    if case is None:
        return
    action = p.get("action")
    link = _url("supervision:case-detail", case.pk)
    step = f"{p.get('step_id') or event.id}"
    if action == "assign":
        notice_send(
            kind=Kind.CASE_ASSIGNED,
            recipients=case_parties(case),
            context=case_context(case),
            dedupe_key=f"case:{case.pk}:assign:{step}",
            link=link,
            org=_case_org(case),
            event_at=event.occurred_at,
        )
    elif action == "return":
        note = CaseStep.objects.filter(pk=p.get("step_id")).values_list("note", flat=True).first() or ""
        notice_send(
            kind=Kind.CASE_RETURNED,
            recipients=case_parties(case),
            context={**case_context(case), "note": note[:80]},
            dedupe_key=f"case:{case.pk}:return:{step}",
            link=link,
            org=_case_org(case),
            event_at=event.occurred_at,
        )
    elif action == "close":
        for feedback in case.feedback.all():
            if MOBILE.match(feedback.contact or ""):
                notice_send(
                    kind=Kind.FEEDBACK_CASE_CLOSED,
                    recipients=[recipients.of_mobile(feedback.contact)],
                    context={"follow_code": feedback.follow_code, "case_number": case.number},
                    dedupe_key=f"feedback:{feedback.pk}:closed:{case.pk}",
                    org=_case_org(case),
                    event_at=event.occurred_at,
                )


@rule("supervision.feedback_answered")
def feedback_answered(event: Event) -> None:
    from canteen.supervision.models import Feedback

    feedback = Feedback.objects.filter(pk=event.payload.get("feedback_id")).first()
    if feedback is None or not MOBILE.match(feedback.contact or ""):
        return
    notice_send(
        kind=Kind.FEEDBACK_ANSWERED,
        recipients=[recipients.of_mobile(feedback.contact)],
        context={"follow_code": feedback.follow_code, "answer": feedback.answer[:120]},
        dedupe_key=f"feedback:{feedback.pk}:answer:{feedback.answered_at.isoformat() if feedback.answered_at else event.id}",
        org={"district": feedback.district_id, "school": feedback.school_id, "campus": feedback.campus_id},
        event_at=event.occurred_at,
    )
