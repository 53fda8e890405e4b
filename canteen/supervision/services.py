"""Writes of the supervision domain: cases (the closed loop 交办→整改→复核→销号), inspections
(planned and 双随机), parent feedback, and the flattened org dimension."""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import InvalidTransition, NotFound, ValidationFailed
from canteen.core.events import publish
from canteen.core.i18n import tr
from canteen.org.choices import REGULATOR_ROLES, SCHOOL_STAFF_ROLES, Role

from .choices import (
    CHECKLIST,
    DEADLINE_DAYS,
    TRANSITIONS,
    CaseAction,
    CaseSource,
    CaseStatus,
    FeedbackKind,
    FeedbackStatus,
    Flag,
    InspectionKind,
    InspectionStatus,
    ItemResult,
    Severity,
)
from .errors import (
    DeadlineInPast,
    EvidenceRejected,
    EvidenceRequired,
    InspectionIncomplete,
    NotEnoughCandidates,
    NotYourCase,
    RateLimited,
)
from .models import (
    CampusDim,
    Case,
    CaseEvidence,
    CaseStep,
    Feedback,
    Inspection,
    InspectionItem,
    LiveItem,
    RateLimitBucket,
)

MAX_EVIDENCE_BYTES = int(getattr(settings, "CANTEEN_SUPERVISION_MAX_UPLOAD", 10 * 1024 * 1024))
MAX_EVIDENCE_FILES = 8
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


# ---------------------------------------------------------------- live ticker


def live_add(*, kind: str, text_zh: str, text_en: str, org: dict[str, Any] | None = None) -> LiveItem:
    org = org or {}
    return LiveItem.objects.create(
        kind=kind,
        text_zh=text_zh[:200],
        text_en=text_en[:200],
        campus_id=org.get("campus_id"),
        school_id=org.get("school_id"),
        district_id=org.get("district_id"),
        city_id=org.get("city_id"),
    )


# ---------------------------------------------------------------- cases


def _case_org(case: Case) -> dict[str, Any]:
    return {
        "campus_id": case.campus_id,
        "school_id": case.school_id,
        "district_id": case.district_id,
        "city_id": case.district.city_id,
    }


def _new_number(now: datetime) -> str:
    return f"AJ{timezone.localtime(now):%Y%m%d}-{secrets.token_hex(3).upper()}"


def _actor_label(actor: Any) -> str:
    return (getattr(actor, "username", None) or "system")[:150]


def _is_regulator_over(actor: Any, case: Case) -> bool:
    if actor is None:
        return True  # the system itself (automatic sources, escalation)
    if getattr(actor, "is_superuser", False):
        return True
    if actor.role not in REGULATOR_ROLES:
        return False
    return Case.objects.visible_to(actor).filter(pk=case.pk).exists()


def _is_school_of(actor: Any, case: Case) -> bool:
    if actor is None or getattr(actor, "is_superuser", False):
        return actor is not None
    if actor.role not in SCHOOL_STAFF_ROLES or case.school_id is None:
        return False
    return Case.objects.visible_to(actor).filter(pk=case.pk).exists()


def _step(
    case: Case, *, action: str, actor: Any, from_status: str, note: str = "", data: dict | None = None
) -> CaseStep:
    return CaseStep.objects.create(
        case=case,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_actor_label(actor),
        action=action,
        from_status=from_status,
        to_status=case.status,
        note=note,
        data=data or {},
    )


@transaction.atomic  # the open case of a source is locked: needs a transaction on PostgreSQL
def case_open(
    *,
    actor: Any | None,
    source: str,
    title: str,
    district_id: Any,
    school_id: Any = None,
    campus_id: Any = None,
    source_ref: str = "",
    description: str = "",
    severity: str = Severity.MEDIUM,
) -> tuple[Case, bool]:
    """Open a case; returns (case, created). With a source_ref, at most one case per source
    reference is open at a time: a repeat returns the open case and notes the recurrence.

    Atomic: the row lock on an open case of the same source needs a transaction, and the
    case, its first step and its audit record are written together or not at all."""
    from canteen.org.models import Campus, District

    if source not in CaseSource.values or severity not in Severity.values:
        raise ValidationFailed(details={"source": source, "severity": severity})
    if not title.strip():
        raise ValidationFailed("请填写问题标题", "A title is required", details={"title": "required"})
    district = District.objects.filter(pk=district_id).first()
    if district is None:
        raise NotFound(details={"district_id": str(district_id)})
    if campus_id and not school_id:
        school_id = Campus.objects.filter(pk=campus_id).values_list("school_id", flat=True).first()
    key = f"{source}:{source_ref}"[:200] if source_ref else None
    now = timezone.now()
    if key:
        existing = Case.objects.select_for_update().filter(open_source_key=key).first()
        if existing is not None:
            _step(existing, action="recur", actor=actor, from_status=existing.status, note=description[:500])
            return existing, False
    case = Case(
        number=_new_number(now),
        title=title[:200],
        description=description,
        source=source,
        source_ref=source_ref[:160],
        open_source_key=key,
        severity=severity,
        district=district,
        school_id=school_id,
        campus_id=campus_id,
        opened_by=actor if getattr(actor, "pk", None) else None,
    )
    try:
        with transaction.atomic():
            case.save(force_insert=True)
    except IntegrityError:
        # A concurrent transaction opened the same source first: use its case.
        existing = Case.objects.get(open_source_key=key)
        return existing, False
    _step(case, action=CaseAction.OPEN, actor=actor, from_status="", note=description[:500], data={"source": source})
    audit_record(
        actor=actor,
        action="supervision.case.open",
        target=case,
        after={"source": source, "source_ref": source_ref, "severity": severity},
        district_id=case.district_id,
        school_id=case.school_id,
    )
    live_add(kind="case", text_zh=f"新问题：{case.title}", text_en=f"New case: {case.title}", org=_case_org(case))
    return case, True


def _move(case: Case, *, action: str, actor: Any, note: str = "", data: dict | None = None, **changes: Any) -> Case:
    target = TRANSITIONS.get((action, case.status))
    if target is None:
        raise InvalidTransition(details={"action": action, "status": case.status})
    before = {"status": case.status, **{k: str(getattr(case, k)) for k in changes}}
    from_status = case.status
    case.status = target
    for field, value in changes.items():
        setattr(case, field, value)
    if target == CaseStatus.CLOSED:
        case.closed_at = timezone.now()
        case.open_source_key = None  # the source may open a new case from now on
        case.flag = Flag.NONE
    case.save()
    step = _step(case, action=action, actor=actor, from_status=from_status, note=note, data=data)
    audit_record(
        actor=actor,
        action=f"supervision.case.{action}",
        target=case,
        before=before,
        after={"status": case.status, **{k: str(v) for k, v in changes.items()}},
        district_id=case.district_id,
        school_id=case.school_id,
    )
    case._last_step = step  # type: ignore[attr-defined]
    # For the notification service (case parties, feedback givers); ids only.
    publish(
        "supervision.case_moved",
        {
            "case_id": str(case.pk),
            "action": action,
            "from_status": from_status,
            "to_status": case.status,
            "district_id": str(case.district_id),
            "school_id": str(case.school_id) if case.school_id else None,
            "campus_id": str(case.campus_id) if case.campus_id else None,
            "deadline": case.deadline.isoformat() if case.deadline else None,
            "step_id": step.pk,
        },
    )
    return case


def _locked(case: Case | Any) -> Case:
    pk = case.pk if isinstance(case, Case) else case
    found = Case.objects.select_for_update().select_related("district").filter(pk=pk).first()
    if found is None:
        raise NotFound(details={"case": str(pk)})
    return found


@transaction.atomic
def case_assign(
    *,
    case: Case | Any,
    actor: Any,
    deadline: datetime | None = None,
    school_id: Any = None,
    campus_id: Any = None,
    note: str = "",
) -> Case:
    """交办: hand the case to a school with a deadline (default by severity)."""
    from canteen.org.models import Campus, School

    case = _locked(case)
    if not _is_regulator_over(actor, case):
        raise NotYourCase()
    now = timezone.now()
    deadline = deadline or now + timedelta(days=DEADLINE_DAYS[Severity(case.severity)])
    if deadline <= now:
        raise DeadlineInPast()
    if campus_id:
        campus = Campus.objects.filter(pk=campus_id, school__district_id=case.district_id).first()
        if campus is None:
            raise ValidationFailed(details={"campus_id": "not in this district"})
        school_id = campus.school_id
    school_id = school_id or case.school_id
    if school_id is None or not School.objects.filter(pk=school_id, district_id=case.district_id).exists():
        raise ValidationFailed(
            "请选择本区的学校", "Choose a school of this district", details={"school_id": "required"}
        )
    changes = {"school_id": school_id, "deadline": deadline, "assigned_at": now, "flag": Flag.NONE}
    if campus_id:
        changes["campus_id"] = campus_id
    elif case.campus_id and case.school_id != school_id:
        changes["campus_id"] = None
    return _move(
        case, action=CaseAction.ASSIGN, actor=actor, note=note, data={"deadline": deadline.isoformat()}, **changes
    )


def _check_upload(upload: Any) -> tuple[bytes, str, bool]:
    data = upload.read()
    if not data or len(data) > MAX_EVIDENCE_BYTES:
        raise EvidenceRejected(details={"file": getattr(upload, "name", ""), "size": len(data)})
    if data.startswith(b"%PDF-"):
        return data, "application/pdf", False
    from canteen.core.images import ImageRejected, image_open_bounded

    try:
        with image_open_bounded(data) as image:
            image.verify()
            fmt = image.format
    except ImageRejected as exc:
        raise EvidenceRejected(details={"file": getattr(upload, "name", ""), **exc.details}) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise EvidenceRejected(details={"file": getattr(upload, "name", "")}) from exc
    if fmt not in IMAGE_FORMATS:
        raise EvidenceRejected(details={"file": getattr(upload, "name", ""), "format": fmt})
    return data, IMAGE_FORMATS[fmt], True


@transaction.atomic
def case_respond(*, case: Case | Any, actor: Any, note: str, files: Sequence[Any] = ()) -> Case:
    """整改: the school says what it did, with photos (JPEG/PNG/WebP) or PDF files."""
    case = _locked(case)
    if not _is_school_of(actor, case):
        raise NotYourCase()
    if not note or not note.strip():
        raise EvidenceRequired()
    if len(files) > MAX_EVIDENCE_FILES:
        raise EvidenceRejected(details={"files": len(files), "max": MAX_EVIDENCE_FILES})
    checked = [(upload, *_check_upload(upload)) for upload in files]
    now = timezone.now()
    late = bool(case.deadline and now > case.deadline)
    case = _move(
        case,
        action=CaseAction.RESPOND,
        actor=actor,
        note=note.strip(),
        data={"files": len(checked), "late": late},
        responded_at=now,
        responded_late=case.responded_late or late,
    )
    for upload, data, content_type, is_image in checked:
        digest = hashlib.sha256(data).hexdigest()
        name = (getattr(upload, "name", "") or "file").rsplit("/", 1)[-1][:200]
        evidence = CaseEvidence(
            case=case,
            step=case._last_step,  # type: ignore[attr-defined]
            original_name=name,
            content_type=content_type,
            size=len(data),
            sha256=digest,
            is_image=is_image,
        )
        evidence.file.save(name, ContentFile(data), save=False)
        evidence.save()
    return case


@transaction.atomic
def case_review(
    *, case: Case | Any, actor: Any, accept: bool, note: str = "", deadline: datetime | None = None
) -> Case:
    """复核: accept the school's response, or return it (the school must respond again)."""
    case = _locked(case)
    if not _is_regulator_over(actor, case):
        raise NotYourCase()
    if accept:
        return _move(case, action=CaseAction.ACCEPT, actor=actor, note=note)
    if not note.strip():
        raise ValidationFailed("退回时请说明原因", "Say why the response is returned", details={"note": "required"})
    now = timezone.now()
    new_deadline = deadline or now + timedelta(days=DEADLINE_DAYS[Severity(case.severity)])
    if new_deadline <= now:
        raise DeadlineInPast()
    if case.deadline and new_deadline < case.deadline:
        # A return asks the school for more work: it may extend the time to do it, never cut
        # the time the school was given.
        new_deadline = case.deadline
    return _move(
        case,
        action=CaseAction.RETURN,
        actor=actor,
        note=note,
        data={"deadline": new_deadline.isoformat()},
        return_count=case.return_count + 1,
        deadline=new_deadline,
        flag=Flag.NONE,
    )


@transaction.atomic
def case_close(*, case: Case | Any, actor: Any, note: str = "") -> Case:
    """销号: close an accepted case."""
    case = _locked(case)
    if not _is_regulator_over(actor, case):
        raise NotYourCase()
    closed = _move(case, action=CaseAction.CLOSE, actor=actor, note=note)
    live_add(kind="closed", text_zh=f"已销号：{case.title}", text_en=f"Closed: {case.title}", org=_case_org(case))
    return closed


@transaction.atomic
def case_dismiss(*, case: Case | Any, actor: Any, note: str) -> Case:
    """Close an unassigned case that needs no action (a false alarm), with the reason."""
    case = _locked(case)
    if not _is_regulator_over(actor, case):
        raise NotYourCase()
    if not note.strip():
        raise ValidationFailed("请说明撤销原因", "Say why the case is dismissed", details={"note": "required"})
    return _move(case, action=CaseAction.DISMISS, actor=actor, note=note)


# Escalation thresholds, in hours past the relevant moment.
YELLOW_AFTER_HOURS = 0
RED_AFTER_HOURS = 48
UNASSIGNED_YELLOW_HOURS = 24
UNASSIGNED_RED_HOURS = 72
UNREVIEWED_YELLOW_HOURS = 72


def _flag_for(case: Case, now: datetime) -> str:
    if case.status == CaseStatus.ASSIGNED and case.deadline:
        overdue = (now - case.deadline).total_seconds() / 3600
        if overdue > RED_AFTER_HOURS:
            return Flag.RED
        if overdue > YELLOW_AFTER_HOURS:
            return Flag.YELLOW
    elif case.status == CaseStatus.OPENED:
        waiting = (now - case.created_at).total_seconds() / 3600
        if waiting > UNASSIGNED_RED_HOURS:
            return Flag.RED
        if waiting > UNASSIGNED_YELLOW_HOURS:
            return Flag.YELLOW
    elif case.status == CaseStatus.RESPONDED and case.responded_at:
        if (now - case.responded_at).total_seconds() / 3600 > UNREVIEWED_YELLOW_HOURS:
            return Flag.YELLOW
    return case.flag


_RANK = {Flag.NONE: 0, Flag.YELLOW: 1, Flag.RED: 2}


def case_escalate_overdue(*, now: datetime | None = None) -> int:
    """Raise yellow/red flags on late cases (督办); each raise writes a step. Idempotent: a flag
    only ever goes up while the case waits, so a second run changes nothing."""
    now = now or timezone.now()
    raised = 0
    candidates = Case.objects.filter(status__in=[CaseStatus.OPENED, CaseStatus.ASSIGNED, CaseStatus.RESPONDED]).exclude(
        flag=Flag.RED
    )
    for case_id in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            case = _locked(case_id)
            flag = _flag_for(case, now)
            if _RANK[Flag(flag)] <= _RANK[Flag(case.flag)]:
                continue
            before = case.flag
            case.flag = flag
            case.escalated_at = now
            case.save(update_fields=["flag", "escalated_at", "updated_at"])
            _step(
                case,
                action=CaseAction.ESCALATE,
                actor=None,
                from_status=case.status,
                data={"flag": flag, "was": before},
            )
            audit_record(
                actor=None,
                action="supervision.case.escalate",
                target=case,
                before={"flag": before},
                after={"flag": flag},
                district_id=case.district_id,
                school_id=case.school_id,
            )
            label = tr("红牌", "red") if flag == Flag.RED else tr("黄牌", "yellow")
            live_add(
                kind="flag",
                text_zh=f"{'红牌' if flag == Flag.RED else '黄牌'}督办：{case.title}",
                text_en=f"{label} flag: {case.title}",
                org=_case_org(case),
            )
            raised += 1
    return raised


# ---------------------------------------------------------------- inspections


def _default_items(inspection: Inspection) -> None:
    InspectionItem.objects.bulk_create(
        [InspectionItem(inspection=inspection, code=code, text_zh=zh, text_en=en) for code, zh, en in CHECKLIST]
    )


@transaction.atomic
def inspection_plan(
    *,
    actor: Any,
    campus_id: Any,
    planned_on: date,
    inspector_ids: Iterable[Any] = (),
    kind: str = InspectionKind.PLANNED,
) -> Inspection:
    from canteen.org.models import Campus, User

    campus = Campus.objects.visible_to(actor).select_related("school").filter(pk=campus_id).first()
    if campus is None or actor is None or actor.role not in REGULATOR_ROLES and not actor.is_superuser:
        raise NotYourCase("无权为该校区安排检查", "You may not plan inspections for this campus")
    inspection = Inspection.objects.create(
        kind=kind, district_id=campus.school.district_id, campus=campus, planned_on=planned_on, created_by=actor
    )
    inspectors = list(User.objects.filter(pk__in=list(inspector_ids), role__in=REGULATOR_ROLES))
    inspection.inspectors.set(inspectors)
    _default_items(inspection)
    audit_record(
        actor=actor, action="supervision.inspection.plan", target=inspection, district_id=inspection.district_id
    )
    return inspection


@transaction.atomic
def inspection_draw_random(
    *,
    actor: Any,
    district_id: Any,
    campuses: int,
    inspectors_per_inspection: int = 2,
    planned_on: date,
    seed: int | None = None,
) -> list[Inspection]:
    """双随机、一公开: random campuses × random inspectors from the district's regulators.
    The seed is stored with every inspection so the draw can be re-run and checked."""
    from canteen.org.models import Campus, User

    if actor is None or (actor.role not in REGULATOR_ROLES and not actor.is_superuser):
        raise NotYourCase("只有监管人员可以抽取", "Only regulators may draw inspections")
    from canteen.org.models import District

    if not District.objects.visible_to(actor).filter(pk=district_id).exists():
        raise NotYourCase()
    seed = seed if seed is not None else secrets.randbelow(2**31)
    rng = random.Random(seed)
    pool = list(Campus.objects.filter(school__district_id=district_id).order_by("code").values_list("pk", flat=True))
    people = list(
        User.objects.filter(is_active=True, role=Role.DISTRICT_REGULATOR, district_id=district_id)
        .order_by("username")
        .values_list("pk", flat=True)
    )
    if campuses < 1 or campuses > len(pool) or inspectors_per_inspection < 1 or inspectors_per_inspection > len(people):
        raise NotEnoughCandidates(details={"campuses": len(pool), "inspectors": len(people)})
    batch = f"R{planned_on:%Y%m%d}-{seed}"
    drawn = rng.sample(pool, campuses)
    result = []
    for campus_id in drawn:
        inspection = Inspection.objects.create(
            kind=InspectionKind.RANDOM,
            district_id=district_id,
            campus_id=campus_id,
            planned_on=planned_on,
            draw_batch=batch,
            draw_seed=seed,
            created_by=actor,
        )
        inspection.inspectors.set(rng.sample(people, inspectors_per_inspection))
        _default_items(inspection)
        result.append(inspection)
    audit_record(
        actor=actor,
        action="supervision.inspection.draw",
        target_type="supervision.inspection_batch",
        target_id=batch,
        after={"seed": seed, "campuses": [str(c) for c in drawn]},
        district_id=district_id,
    )
    return result


@transaction.atomic
def inspection_record(
    *, actor: Any, inspection: Inspection | Any, results: dict[str, tuple[str, str]], summary: str = ""
) -> Inspection:
    """Record the checklist (code → (result, note)); every failed item opens a case."""
    pk = inspection.pk if isinstance(inspection, Inspection) else inspection
    inspection = (
        Inspection.objects.visible_to(actor).select_for_update().select_related("campus__school").filter(pk=pk).first()
    )
    if inspection is None or (actor.role not in REGULATOR_ROLES and not actor.is_superuser):
        raise NotYourCase("无权填写该检查", "You may not record this inspection")
    if inspection.status == InspectionStatus.DONE:
        raise InvalidTransition(details={"status": inspection.status})
    items = {item.code: item for item in inspection.items.all()}
    for code, (result, note) in results.items():
        if code not in items or result not in ItemResult.values:
            raise ValidationFailed(details={"item": code, "result": result})
        items[code].result = result
        items[code].note = (note or "")[:500]
    if any(item.result == ItemResult.PENDING for item in items.values()):
        raise InspectionIncomplete(details={"pending": [c for c, i in items.items() if i.result == ItemResult.PENDING]})
    for item in items.values():
        if item.result == ItemResult.FAIL:
            case, _ = case_open(
                actor=actor,
                source=CaseSource.INSPECTION,
                source_ref=f"{inspection.pk}:{item.code}",
                title=f"检查发现：{item.text_zh}",
                description=item.note,
                district_id=inspection.district_id,
                school_id=inspection.campus.school_id,
                campus_id=inspection.campus_id,
                severity=Severity.MEDIUM,
            )
            item.case = case
        item.save(update_fields=["result", "note", "case"])
    inspection.status = InspectionStatus.DONE
    inspection.completed_at = timezone.now()
    inspection.summary = summary
    inspection.save(update_fields=["status", "completed_at", "summary", "updated_at"])
    audit_record(
        actor=actor,
        action="supervision.inspection.record",
        target=inspection,
        after={"failed": [c for c, i in items.items() if i.result == ItemResult.FAIL]},
        district_id=inspection.district_id,
        school_id=inspection.campus.school_id,
    )
    return inspection


# ---------------------------------------------------------------- parent feedback

FEEDBACK_PER_IP_PER_HOUR = int(getattr(settings, "CANTEEN_FEEDBACK_PER_IP_PER_HOUR", 5))
FEEDBACK_PER_CANTEEN_PER_HOUR = int(getattr(settings, "CANTEEN_FEEDBACK_PER_CANTEEN_PER_HOUR", 60))


def ratelimit_hit(*, key: str, limit: int, window_seconds: int = 3600, now: datetime | None = None) -> bool:
    """Count one hit in the current fixed window; False when the limit is exceeded.
    The counter is a row updated with F() + 1, so concurrent processes count exactly."""
    now = now or timezone.now()
    start = datetime.fromtimestamp(int(now.timestamp()) // window_seconds * window_seconds, tz=now.tzinfo)
    qs = RateLimitBucket.objects.filter(key=key[:120], window_start=start)
    if not qs.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                RateLimitBucket.objects.create(key=key[:120], window_start=start, count=1)
        except IntegrityError:
            qs.update(count=F("count") + 1)
    return qs.values_list("count", flat=True).get() <= limit


def _hash_ip(ip: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{ip}".encode()).hexdigest()[:32]


def feedback_submit(
    *, canteen_code: str, kind: str, text: str, rating: int | None = None, contact: str = "", ip: str = ""
) -> Feedback:
    """A parent's message from the QR form. Rate-limited per IP and per canteen; a complaint
    opens a case automatically. Returns the feedback with its follow code."""
    from canteen.org.models import Canteen

    text = (text or "").strip()
    if kind not in FeedbackKind.values or not text or len(text) > 1000:
        raise ValidationFailed(details={"kind": kind, "text": "1–1000 characters"})
    if rating is not None and not 1 <= int(rating) <= 5:
        raise ValidationFailed(details={"rating": "1–5"})
    contact = (contact or "").strip()[:40]
    canteen = Canteen.objects.select_related("campus__school__district").filter(code=canteen_code).first()
    if canteen is None:
        raise NotFound(details={"canteen": canteen_code})
    # The counters commit even when the submission is refused, so they run in their own
    # transaction before the write.
    with transaction.atomic():
        ip_ok = ratelimit_hit(key=f"fb:ip:{_hash_ip(ip)}", limit=FEEDBACK_PER_IP_PER_HOUR)
        canteen_ok = ratelimit_hit(key=f"fb:canteen:{canteen.pk}", limit=FEEDBACK_PER_CANTEEN_PER_HOUR)
    if not (ip_ok and canteen_ok):
        raise RateLimited()
    from . import rollups

    with transaction.atomic():
        campus = canteen.campus
        feedback = Feedback.objects.create(
            follow_code=secrets.token_hex(4).upper(),
            canteen=canteen,
            campus=campus,
            school=campus.school,
            district=campus.school.district,
            kind=kind,
            rating=rating,
            text=text,
            contact=contact,
        )
        keys = rollups.resolve_org({"campus_id": campus.pk})
        if keys:
            rollups.stats_add(day=timezone.localdate(), keys=keys, feedback_count=1)
        if kind == FeedbackKind.COMPLAINT:
            feedback_open_case(feedback=feedback, actor=None)
        live_add(
            kind="feedback",
            text_zh=f"家长{feedback.get_kind_display()[:2]}：{canteen.name}",
            text_en=f"Parent {kind}: {canteen.name}",
            org={"campus_id": campus.pk, "school_id": campus.school_id, "district_id": campus.school.district_id},
        )
    return feedback


def feedback_open_case(*, feedback: Feedback, actor: Any | None) -> Case:
    with transaction.atomic():
        case, _ = case_open(
            actor=actor,
            source=CaseSource.FEEDBACK,
            source_ref=str(feedback.pk),
            title=f"家长{feedback.get_kind_display()[:2]}：{feedback.text[:40]}",
            description=feedback.text,
            district_id=feedback.district_id,
            school_id=feedback.school_id,
            campus_id=feedback.campus_id,
            severity=Severity.MEDIUM,
        )
        Feedback.objects.filter(pk=feedback.pk).update(case=case, status=FeedbackStatus.CASE_OPENED)
        feedback.case, feedback.status = case, FeedbackStatus.CASE_OPENED
    return case


@transaction.atomic
def feedback_answer(*, feedback: Feedback | Any, actor: Any, answer: str) -> Feedback:
    pk = feedback.pk if isinstance(feedback, Feedback) else feedback
    feedback = Feedback.objects.visible_to(actor).select_for_update().filter(pk=pk).first()
    if feedback is None or actor.role not in (REGULATOR_ROLES | {Role.SCHOOL_ADMIN}) and not actor.is_superuser:
        raise NotYourCase("无权答复该反馈", "You may not answer this feedback")
    if not answer.strip():
        raise ValidationFailed(details={"answer": "required"})
    feedback.answer = answer.strip()[:2000]
    feedback.answered_at = timezone.now()
    feedback.answered_by = actor
    if feedback.status == FeedbackStatus.RECEIVED:
        feedback.status = FeedbackStatus.ANSWERED
    feedback.save()
    audit_record(
        actor=actor,
        action="supervision.feedback.answer",
        target=feedback,
        district_id=feedback.district_id,
        school_id=feedback.school_id,
    )
    publish(
        "supervision.feedback_answered",
        {
            "feedback_id": str(feedback.pk),
            "district_id": str(feedback.district_id),
            "school_id": str(feedback.school_id),
            "campus_id": str(feedback.campus_id),
        },
    )
    return feedback


# ---------------------------------------------------------------- org dimension


def campus_dim_refresh() -> int:
    """Copy the org hierarchy and enrolment into CampusDim (names change rarely; enrolment daily)."""
    from canteen.org.choices import StudentStatus
    from canteen.org.models import Campus

    rows = Campus.objects.select_related("school__district").annotate(
        n=Count("students", filter=Q(students__status=StudentStatus.ENROLLED))
    )
    dims = [
        CampusDim(
            campus_id=c.pk,
            school_id=c.school_id,
            district_id=c.school.district_id,
            city_id=c.school.district.city_id,
            campus_name=c.name,
            school_name=c.school.name,
            district_name=c.school.district.name,
            enrolled=c.n,
        )
        for c in rows
    ]
    with transaction.atomic():
        CampusDim.objects.bulk_create(
            dims,
            update_conflicts=True,
            unique_fields=["campus_id"],
            update_fields=[
                "school_id",
                "district_id",
                "city_id",
                "campus_name",
                "school_name",
                "district_name",
                "enrolled",
            ],
        )
        CampusDim.objects.exclude(campus_id__in=[d.campus_id for d in dims]).delete()
    return len(dims)


def prune(*, now: datetime | None = None) -> dict[str, int]:
    """Drop ticker rows older than a day, processed-event marks past their replay window,
    expired rate-limit windows."""
    from .models import ProcessedEvent

    now = now or timezone.now()
    keep_days = int(getattr(settings, "CANTEEN_SUPERVISION_PROCESSED_DAYS", 14))
    return {
        "live": LiveItem.objects.filter(at__lt=now - timedelta(days=1)).delete()[0],
        "processed": ProcessedEvent.objects.filter(processed_at__lt=now - timedelta(days=keep_days)).delete()[0],
        "ratelimit": RateLimitBucket.objects.filter(window_start__lt=now - timedelta(days=1)).delete()[0],
    }
