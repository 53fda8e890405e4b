"""Allergen conflicts at the window: today's set meal holds an allergen the pupil declared (or
breaks their diet: halal, vegetarian). The automatic charge is refused and the kiosk turns red;
the window staff then serve the menu's alternative set meal, confirm with a reason, or serve
nothing. Every conflict is a row (AllergenConflict), an audit event, and a
`consumption.allergen_conflict` event, which the notification service relays to guardians and
the canteen manager.

The check costs the checkout no query: the set meal's allergens come from the campus-day menu
cache (derived from the recipes) and the pupil's from the student row checkout already reads;
only a conflict, which is rare, writes.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import DomainError, InvalidTransition
from canteen.core.events import publish

from .errors import AllergenConflictFound, NotAllowedAtWindow
from .models import AllergenConflict, ConflictResolution, MealRecord, Method

TOPIC = "consumption.allergen_conflict"


def labels(codes: list[str]) -> list[str]:
    """Allergen codes as the window says them (花生, 清真饮食...)."""
    from canteen.meals.choices import ALLERGEN_SHORT, Diet

    diets = {code: str(label).split(" ")[0] for code, label in Diet.choices}
    out = []
    for code in codes:
        if code.startswith("diet:"):
            out.append(diets.get(code[5:], code[5:]) + "饮食")
        else:
            out.append(ALLERGEN_SHORT.get(code, code))
    return out


def _payload(conflict: AllergenConflict) -> dict[str, Any]:
    return {
        "conflict_id": str(conflict.pk),
        "student_id": str(conflict.student_id),
        "campus_id": str(conflict.campus_id),
        "window_id": str(conflict.window_id) if conflict.window_id else None,
        "meal_record_id": str(conflict.meal_record_id) if conflict.meal_record_id else None,
        "allergens": list(conflict.allergens),
        "resolution": conflict.resolution,
    }


def allergen_conflict_record(
    *,
    student: Any,
    window: Any,
    terminal: Any,
    offer: Any,
    method: str,
    idempotency_key: str,
    actor: Any,
    meal_record: MealRecord | None = None,
) -> AllergenConflict:
    """Keep the conflict a checkout met (once per checkout key: a retry finds the same row),
    audit it and publish it. `meal_record`: the meal was already handed over (served offline)."""
    campus = window.canteen.campus
    existing = AllergenConflict.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    resolution = ConflictResolution.SERVED_OFFLINE if meal_record is not None else ConflictResolution.PENDING
    try:
        with transaction.atomic():
            conflict = AllergenConflict.objects.create(
                student=student,
                campus=campus,
                school_id=campus.school_id,
                district_id=campus.school.district_id,
                window=window,
                terminal=terminal,
                served_on=offer.served_on,
                session_kind=offer.session_kind,
                set_meal_id=str(offer.set_meal_id or ""),
                set_meal_name=offer.set_meal_name,
                allergens=offer.conflicts,
                alternative_set_meal_id=str(offer.alternative_id or ""),
                alternative_set_meal_name=offer.alternative_name,
                method=method,
                idempotency_key=idempotency_key,
                resolution=resolution,
                meal_record=meal_record,
            )
            audit_record(
                actor=actor if getattr(actor, "pk", None) else (f"terminal:{terminal.code}" if terminal else None),
                action="consumption.allergen_conflict",
                target=conflict,
                target_label=f"{student.name} {offer.set_meal_name}",
                after={
                    "student": str(student.pk),
                    "allergens": conflict.allergens,
                    "set_meal": offer.set_meal_name,
                    "alternative": offer.alternative_name,
                    "resolution": resolution,
                },
                district_id=conflict.district_id,
                school_id=conflict.school_id,
            )
            publish(TOPIC, _payload(conflict))
    except IntegrityError:  # the same key's retry, at the same moment
        return AllergenConflict.objects.get(idempotency_key=idempotency_key)
    return conflict


def refusal(conflict: AllergenConflict, student: Any) -> AllergenConflictFound:
    return AllergenConflictFound(
        allergens=labels(conflict.allergens),
        codes=list(conflict.allergens),
        set_meal_name=conflict.set_meal_name,
        alternative_name=conflict.alternative_set_meal_name,
        conflict_id=str(conflict.pk),
        student_id=str(student.pk),
    )


def allergen_conflict_resolve(
    *, conflict: AllergenConflict, actor: Any, action: str, reason: str = ""
) -> AllergenConflict:
    """The window staff's answer to a conflict: `alternative` (serve and charge the menu's
    alternative set meal), `confirm` (serve the meal after all, a reason required: the
    guardian's note says it is fine, say) or `decline` (serve nothing)."""
    from . import services

    if getattr(actor, "role", None) not in services.WINDOW_ROLES and not getattr(actor, "is_superuser", False):
        raise NotAllowedAtWindow()
    if not getattr(actor, "is_superuser", False) and actor.campus_id != conflict.campus_id:
        raise NotAllowedAtWindow()
    reason = (reason or "").strip()[:200]
    if action == "confirm" and not reason:
        raise DomainError(
            "确认供餐必须填写原因",
            "A reason is required to serve the meal despite the conflict",
            code="reason_required",
        )
    if action not in {"alternative", "confirm", "decline"}:
        raise DomainError("未知的处理方式", "Unknown resolution", code="invalid_resolution")
    with transaction.atomic():
        conflict = (
            AllergenConflict.objects.select_for_update(of=("self",))
            .select_related("student", "window")
            .get(pk=conflict.pk)
        )
        if conflict.resolution != ConflictResolution.PENDING:
            raise InvalidTransition("该过敏冲突已处理", "This allergen conflict has already been resolved")
        record = None
        if action == "decline":
            conflict.resolution = ConflictResolution.DECLINED
        else:
            if action == "alternative" and not conflict.alternative_set_meal_id:
                raise DomainError(
                    "今日菜单没有可替代的套餐，请确认或不供餐",
                    "Today's menu has no alternative set meal; confirm or serve nothing",
                    code="no_alternative",
                )
            result = services.checkout_record(
                student=conflict.student,
                # The staff confirmed who and what: a manual check at the window.
                method=Method.MANUAL,
                idempotency_key=f"allergen-{conflict.pk}",
                actor=actor,
                window=conflict.window,
                set_meal_id=conflict.alternative_set_meal_id if action == "alternative" else None,
                allergen_confirmed=True,
            )
            record = result.record
            conflict.resolution = (
                ConflictResolution.ALTERNATIVE if action == "alternative" else ConflictResolution.CONFIRMED
            )
        conflict.meal_record = record
        conflict.reason = reason
        conflict.resolved_at = timezone.now()
        conflict.resolved_by = actor if getattr(actor, "pk", None) else None
        conflict.save(update_fields=["resolution", "meal_record", "reason", "resolved_at", "resolved_by", "updated_at"])
        audit_record(
            actor=actor,
            action="consumption.allergen_conflict_resolved",
            target=conflict,
            before={"resolution": ConflictResolution.PENDING},
            after={
                "resolution": conflict.resolution,
                "reason": reason,
                "meal_record": str(record.pk) if record else None,
                "set_meal": record.set_meal_name if record else None,
            },
            district_id=conflict.district_id,
            school_id=conflict.school_id,
        )
        publish(TOPIC, _payload(conflict))
    return conflict
