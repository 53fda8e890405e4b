"""The one way to write an audit event."""

from __future__ import annotations

from typing import Any

from django.db import models

from .context import current_request_id
from .db import insert_row
from .models import AuditEvent


def audit_event(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    target_label: str = "",
    before: dict | None = None,
    after: dict | None = None,
    district_id: Any = None,
    school_id: Any = None,
) -> AuditEvent:
    """The audit event, not yet written: `audit_record` writes it; a write path that stores
    all its rows in one database call (consumption's checkout) sends it with them."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_label = target_label or str(target)[:200]
    user = actor if getattr(actor, "pk", None) else None
    return AuditEvent(
        actor=user,
        actor_label=(getattr(actor, "username", None) or str(actor or "system"))[:150],
        action=action,
        target_type=target_type or "",
        target_id=str(target_id or ""),
        target_label=target_label,
        before=before,
        after=after,
        request_id=current_request_id(),
        district_id=district_id,
        school_id=school_id,
    )


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    target_label: str = "",
    before: dict | None = None,
    after: dict | None = None,
    district_id: Any = None,
    school_id: Any = None,
) -> AuditEvent:
    """Write one audit event. insert_row: audit rows are written on hot paths, where save()'s
    overhead shows."""
    return insert_row(
        audit_event(
            actor=actor,
            action=action,
            target=target,
            target_type=target_type,
            target_id=target_id,
            target_label=target_label,
            before=before,
            after=after,
            district_id=district_id,
            school_id=school_id,
        )
    )
