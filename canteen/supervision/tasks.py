"""Periodic jobs of the supervision domain (run by `canteen worker`)."""

from __future__ import annotations

from django.utils import timezone

from canteen.core.worker import periodic

from . import partitioning, rollups, services


@periodic(seconds=300, name="supervision.escalate_overdue")
def escalate_overdue() -> str:
    return f"{services.case_escalate_overdue()} case(s) flagged"


@periodic(seconds=3600, name="supervision.refresh_campus_dim")
def refresh_campus_dim() -> str:
    return f"{services.campus_dim_refresh()} campuses"


@periodic(seconds=86400, name="supervision.ensure_partitions")
def ensure_partitions() -> str:
    created = partitioning.ensure_partitions(around=timezone.localdate())
    return f"{len(created)} partition(s) created"


@periodic(seconds=3600, name="supervision.prune")
def prune() -> str:
    return ", ".join(f"{k}={v}" for k, v in services.prune().items())


@periodic(seconds=2, name="supervision.fold_rollup_deltas")
def fold_rollup_deltas() -> str:
    """Fold the checkout path's appended deltas into the rollups (see rollups.fold)."""
    return f"{rollups.fold_all()} delta(s) folded"
