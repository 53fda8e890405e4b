"""Quarantine of batches under a recall (trace raises recalls; procurement owns the stock).

A quarantined batch keeps its stock in store (it is evidence and may go back to the supplier)
but `stock_issue` never takes from it. Release is for a recall withdrawn as unfounded; goods
that are destroyed or returned leave through the usual disposal."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from canteen.core.audit import audit_record

from .models import Batch


@transaction.atomic
def batch_quarantine(*, actor: Any, batch_ids: Iterable[Any], reason: str) -> dict[str, Decimal]:
    """Quarantine the given batches on every campus; returns {batch id: quantity on hand}.
    Idempotent: a batch already quarantined keeps its first reason and time."""
    now = timezone.now()
    held: dict[str, Decimal] = {}
    for batch in Batch.objects.select_for_update().select_related("campus").filter(pk__in=list(batch_ids)):
        held[str(batch.pk)] = batch.on_hand
        if batch.quarantined_at is not None:
            continue
        batch.quarantined_at = now
        batch.quarantine_reason = reason[:200]
        batch.save(update_fields=["quarantined_at", "quarantine_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="procurement.batch_quarantined",
            target=batch,
            after={"reason": batch.quarantine_reason, "on_hand": str(batch.on_hand)},
            district_id=batch.district_id,
            school_id=batch.campus.school_id,
        )
    return held


@transaction.atomic
def batch_release(*, actor: Any, batch_ids: Iterable[Any], note: str = "") -> int:
    released = 0
    for batch in (
        Batch.objects.select_for_update()
        .select_related("campus")
        .filter(pk__in=list(batch_ids), quarantined_at__isnull=False)
    ):
        batch.quarantined_at = None
        batch.quarantine_reason = ""
        batch.save(update_fields=["quarantined_at", "quarantine_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="procurement.batch_released",
            target=batch,
            after={"note": note[:200]},
            district_id=batch.district_id,
            school_id=batch.campus.school_id,
        )
        released += 1
    return released
