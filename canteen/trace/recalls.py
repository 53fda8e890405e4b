"""Recalls that act: raising one quarantines the lot's stock on every campus (procurement's
quarantine), freezes who was reached (campuses, meals, dishes, pupils), opens a supervision
case per affected campus, shows a banner on the public page and hands `trace.recall_started`
to the notification service. It closes only when every affected campus has confirmed.

State machine: open → closed (close needs every campus's confirmation)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import Forbidden, NotFound, ValidationFailed
from canteen.core.events import publish

from . import sources
from .choices import RecallStatus
from .errors import RecallClosed, RecallExists, RecallNotClosable
from .models import Recall, RecallCampus, TraceCode

# Who may recall a batch: the regulators and the school's own administration.
RECALL_ROLES = frozenset({"district_regulator", "city_regulator", "school_admin"})
# Who confirms for a campus that the recalled goods are off its shelves and out of its kitchen.
CONFIRM_ROLES = frozenset({"canteen_manager", "storekeeper", "school_admin"})
CLOSE_ROLES = frozenset({"district_regulator", "city_regulator"})


def _is_regulator(actor: Any) -> bool:
    return bool(getattr(actor, "is_superuser", False) or getattr(actor, "role", "") in CLOSE_ROLES)


def _meals_of(affected: dict[str, Any]) -> list[tuple[str, date, str]]:
    return [
        (c["campus_id"], date.fromisoformat(s["day"]), s["meal_kind"])
        for c in affected["campuses"]
        for s in c["served"]
    ]


def _forget_public_pages(code: TraceCode) -> None:
    """The public page caches its facts for a minute: a recall banner must not wait for that."""
    from django.conf import settings

    for other in TraceCode.objects.filter(district_id=code.district_id, gtin=code.gtin, lot=code.lot):
        cache.delete_many([f"trace-page:{other.code}:{lang}" for lang, _name in settings.LANGUAGES])


@transaction.atomic
def recall_raise(*, actor: Any, code: TraceCode, reason: str) -> Recall:
    """Raise a recall of a batch and every batch of the same lot in the district."""
    from canteen.procurement.quarantine import batch_quarantine
    from canteen.supervision import services as supervision
    from canteen.supervision.choices import CaseSource, Severity

    from .selectors import recall_query

    if not (getattr(actor, "is_superuser", False) or getattr(actor, "role", "") in RECALL_ROLES):
        raise Forbidden()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": "required"})
    code = TraceCode.objects.select_for_update().get(pk=code.pk)
    if Recall.objects.filter(
        district_id=code.district_id, code__gtin=code.gtin, code__lot=code.lot, status=RecallStatus.OPEN
    ).exists():
        raise RecallExists()
    affected = recall_query(actor=actor, code=code)
    pupils = sources.pupils_served(_meals_of(affected))
    for campus in affected["campuses"]:
        for served in campus["served"]:
            served["pupils"] = len(
                pupils.get((campus["campus_id"], date.fromisoformat(served["day"]), served["meal_kind"]), [])
            )
    recall = Recall.objects.create(
        code=code, district_id=code.district_id, reason=reason[:200], affected=affected, raised_by=actor
    )
    held = batch_quarantine(actor=actor, batch_ids=affected["batch_ids"], reason=f"召回 Recall: {recall.reason}")
    from canteen.procurement.models import Batch

    batch_campus = dict(Batch.objects.filter(pk__in=affected["batch_ids"]).values_list("pk", "campus_id"))
    student_ids: set[str] = set()
    for campus in affected["campuses"]:
        campus_pupils = {s for (cid, _d, _k), ids in pupils.items() if cid == campus["campus_id"] for s in ids}
        student_ids |= campus_pupils
        case, _created = supervision.case_open(
            actor=actor,
            source=CaseSource.RECALL,
            title=f"食品召回：{affected.get('item', '')} 批号 {code.lot}"[:200],
            district_id=code.district_id,
            campus_id=campus["campus_id"],
            source_ref=f"recall:{recall.pk}:{campus['campus_id']}",
            description=(
                f"{recall.reason}\n"
                f"库存已封存 Stock quarantined: {campus['on_hand']}\n"
                f"用餐学生 Pupils served: {len(campus_pupils)}"
            ),
            severity=Severity.HIGH,
        )
        RecallCampus.objects.create(
            recall=recall,
            campus_id=campus["campus_id"],
            case_id=case.pk,
            quarantined={
                batch_id: str(quantity)
                for batch_id, quantity in held.items()
                if str(batch_campus.get(_uuid(batch_id))) == campus["campus_id"]
            },
            pupils=len(campus_pupils),
        )
    publish(
        "trace.recall_started",
        {
            "recall_id": str(recall.pk),
            "batch_ids": sorted(affected["batch_ids"]),
            "campus_ids": [c["campus_id"] for c in affected["campuses"]],
            "student_ids": sorted(student_ids),
            "reason": recall.reason,
        },
    )
    audit_record(
        actor=actor,
        action="trace.recall_raised",
        target=recall,
        after={
            "reason": recall.reason,
            "campuses": len(affected["campuses"]),
            "batches": len(affected["batch_ids"]),
            "pupils": len(student_ids),
        },
        district_id=code.district_id,
    )
    _forget_public_pages(code)
    transaction.on_commit(lambda: _forget_public_pages(code))
    return recall


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


def _locked(recall: Recall | Any) -> Recall:
    return Recall.objects.select_for_update().get(pk=getattr(recall, "pk", recall))


@transaction.atomic
def recall_confirm(*, actor: Any, recall: Recall | Any, campus_id: Any, note: str = "") -> RecallCampus:
    """A campus confirms the recalled goods are off its shelves and out of its kitchen (its own
    staff, or a regulator on its behalf). Confirming twice keeps the first confirmation."""
    from canteen.org.models import Campus

    recall = _locked(recall)
    if recall.status != RecallStatus.OPEN:
        raise RecallClosed()
    entry = RecallCampus.objects.select_for_update().filter(recall=recall, campus_id=campus_id).first()
    if entry is None:
        raise NotFound(details={"campus_id": str(campus_id)})
    own_campus = Campus.objects.visible_to(actor).filter(pk=campus_id).exists()
    if not (_is_regulator(actor) or (getattr(actor, "role", "") in CONFIRM_ROLES and own_campus)):
        raise Forbidden()
    if entry.confirmed_at is None:
        entry.confirmed_at = timezone.now()
        entry.confirmed_by = actor
        entry.note = (note or "").strip()[:200]
        entry.save(update_fields=["confirmed_at", "confirmed_by", "note", "updated_at"])
        audit_record(
            actor=actor,
            action="trace.recall_confirmed",
            target=entry,
            after={"recall": str(recall.pk), "campus": str(campus_id), "note": entry.note},
            district_id=recall.district_id,
        )
    return entry


@transaction.atomic
def recall_close(*, actor: Any, recall: Recall | Any) -> Recall:
    """Close a recall: only a regulator, and only once every affected campus confirmed."""
    recall = _locked(recall)
    if not _is_regulator(actor):
        raise Forbidden()
    if recall.status != RecallStatus.OPEN:
        raise RecallClosed()
    pending = list(
        RecallCampus.objects.filter(recall=recall, confirmed_at__isnull=True).values_list("campus_id", flat=True)
    )
    if pending:
        raise RecallNotClosable(details={"pending_campus_ids": [str(c) for c in pending]})
    recall.status = RecallStatus.CLOSED
    recall.closed_at = timezone.now()
    recall.closed_by = actor
    recall.save(update_fields=["status", "closed_at", "closed_by", "updated_at"])
    audit_record(actor=actor, action="trace.recall_closed", target=recall, district_id=recall.district_id)
    _forget_public_pages(recall.code)
    transaction.on_commit(lambda: _forget_public_pages(recall.code))
    return recall
