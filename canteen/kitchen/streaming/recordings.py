"""The recordings index and the retention rules: keep segments for the retention period, delete
the oldest first, and keep all recordings together under the disk budget."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..models import Camera, RecordingSegment
from .config import StreamConfig
from .ffmpeg import probe_duration

log = logging.getLogger("canteen.kitchen.recordings")

STAMP = "%Y%m%dT%H%M%SZ"


def segment_start(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.stem, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def segment_files(config: StreamConfig, camera_id) -> list[tuple[datetime, Path]]:
    rec = config.rec_dir(camera_id)
    if not rec.is_dir():
        return []
    found = [(segment_start(p), p) for p in rec.glob("*.ts")]
    return sorted((start, p) for start, p in found if start is not None)


def index_segments(config: StreamConfig, camera: Camera, *, writing: bool) -> int:
    """Add finished segments to the index. While the relay runs, its newest file is still being
    written and stays out until the next one starts. Only files newer than the newest indexed
    one are looked at: a week of 60 s segments is 10,000 files per camera."""
    files = segment_files(config, camera.id)
    if writing and files:
        files = files[:-1]
    latest = (
        RecordingSegment.objects.filter(camera=camera).order_by("-start_at").values_list("start_at", flat=True).first()
    )
    added = 0
    for i, (start, path) in enumerate(files):
        if latest is not None and start <= latest:
            continue
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        duration = probe_duration(path, ffprobe=config.ffprobe)
        if duration is None:
            nxt = files[i + 1][0] if i + 1 < len(files) else None
            duration = (nxt - start).total_seconds() if nxt else 0.0
        if size == 0 or duration <= 0:
            path.unlink(missing_ok=True)  # an empty leftover of a relay that died at once
            continue
        RecordingSegment.objects.get_or_create(
            camera=camera,
            start_at=start,
            defaults={
                "duration_s": round(duration, 3),
                "file": str(path.relative_to(config.root)),
                "size_bytes": size,
            },
        )
        added += 1
    return added


@dataclass
class RetentionResult:
    expired: int = 0
    over_budget: int = 0
    freed_bytes: int = 0
    total_bytes: int = 0


def enforce_retention(config: StreamConfig, *, open_files: set[Path] | None = None, now=None) -> RetentionResult:
    """Delete indexed segments older than the retention period, then the oldest ones (of any
    camera) until every recording together, the files being written included, fits the disk
    budget. Works from the index (a sum and an ordered scan), not from the file system."""
    now = now or timezone.now()
    result = RetentionResult()
    cutoff = now - timedelta(seconds=config.retention_seconds + config.segment_seconds)
    open_bytes = 0
    for path in open_files or set():
        try:
            open_bytes += path.stat().st_size
        except FileNotFoundError:
            continue
    doomed: list[tuple[int, str, int, str]] = []
    for pk, file, size in (
        RecordingSegment.objects.filter(start_at__lt=cutoff)
        .order_by("start_at")
        .values_list("pk", "file", "size_bytes")
    ):
        doomed.append((pk, file, size, "expired"))
    total = (RecordingSegment.objects.aggregate(total=Sum("size_bytes"))["total"] or 0) + open_bytes
    remaining = total - sum(size for _, _, size, _ in doomed)
    if remaining > config.budget_bytes:
        rows = RecordingSegment.objects.filter(start_at__gte=cutoff).order_by("start_at")
        for pk, file, size in rows.values_list("pk", "file", "size_bytes").iterator(chunk_size=500):
            if remaining <= config.budget_bytes:
                break
            doomed.append((pk, file, size, "budget"))
            remaining -= size
    for _, file, size, why in doomed:
        (config.root / file).unlink(missing_ok=True)
        result.freed_bytes += size
        if why == "expired":
            result.expired += 1
        else:
            result.over_budget += 1
    result.total_bytes = remaining
    if doomed:
        with transaction.atomic():
            RecordingSegment.objects.filter(pk__in=[pk for pk, _, _, _ in doomed]).delete()
        if result.over_budget:
            log.warning("disk budget: deleted %d segments before their retention period ended", result.over_budget)
    return result


def sweep_orphans(config: StreamConfig, *, open_files: set[Path] | None = None, now=None) -> int:
    """Hourly: delete expired files the index does not know (left by a crash before indexing)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=config.retention_seconds + config.segment_seconds)
    keep = {p.resolve() for p in open_files or set()}
    removed = 0
    streams = config.root / "streams"
    if not streams.is_dir():
        return 0
    for camera_dir in streams.iterdir():
        for start, path in segment_files(config, camera_dir.name):
            if start >= cutoff:
                break
            if path.resolve() not in keep:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def forget_missing(config: StreamConfig) -> int:
    """Drop index rows whose file is gone (deleted by hand or by a disk cleanup)."""
    gone = [row.pk for row in RecordingSegment.objects.only("pk", "file") if not (config.root / row.file).exists()]
    if gone:
        RecordingSegment.objects.filter(pk__in=gone).delete()
    return len(gone)
