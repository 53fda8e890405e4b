"""The one way to write an audit event."""

from __future__ import annotations

from typing import Any

from django.db import models

from .context import current_request_id
from .db import insert_row
from .models import AuditEvent


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
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_label = target_label or str(target)[:200]
    user = actor if getattr(actor, "pk", None) else None
    # insert_row: the audit row is written on every checkout, where save()'s overhead shows.
    return insert_row(
        AuditEvent(
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
    )
