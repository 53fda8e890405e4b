"""Subscribers: every accepted batch gets its trace code in the acceptance transaction."""

from __future__ import annotations

from canteen.core.events import Event, subscribe

from . import services


@subscribe("procurement.batch_accepted")
def issue_trace_code(event: Event) -> None:
    batch_id = event.payload.get("batch_id") or event.payload.get("batch")
    if batch_id:
        services.trace_code_issue(batch_id=batch_id)


@subscribe("procurement.delivery_accepted")
def issue_trace_codes_of_delivery(event: Event) -> None:
    """Belt and braces: a delivery accepted in one go may announce its batches only here."""
    for batch_id in event.payload.get("batch_ids") or []:
        services.trace_code_issue(batch_id=batch_id)
