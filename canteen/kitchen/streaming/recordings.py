"""The recordings index and the retention rules: keep segments for the retention period, delete
the oldest first, and keep all recordings together under the disk budget."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import transaction
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
    written and stays out until the next one starts."""
    files = segment_files(config, camera.id)
    if writing and files:
        files = files[:-1]
    known = set(RecordingSegment.objects.filter(camera=camera).values_list("start_at", flat=True))
    added = 0
    for i, (start, path) in enumerate(files):
        if start in known:
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
    """Delete segments older than the retention period, then the oldest ones (of any camera)
    until every recording together fits the disk budget. Files being written are never touched."""
    now = now or timezone.now()
    open_files = {p.resolve() for p in (open_files or set())}
    cutoff = now - timedelta(seconds=config.retention_seconds)
    result = RetentionResult()
    streams = config.root / "streams"
    every: list[tuple[datetime, Path, int]] = []
    if streams.is_dir():
        for camera_dir in streams.iterdir():
            for start, path in segment_files(config, camera_dir.name):
                try:
                    every.append((start, path, path.stat().st_size))
                except FileNotFoundError:
                    continue
    every.sort()
    total = sum(size for _, _, size in every)
    doomed: list[tuple[Path, int, str]] = []
    remaining = total
    for start, path, size in every:
        if path.resolve() in open_files:
            continue
        # A segment ends about one segment length after it starts.
        ends = start + timedelta(seconds=config.segment_seconds)
        if ends < cutoff:
            doomed.append((path, size, "expired"))
        elif remaining > config.budget_bytes:
            doomed.append((path, size, "budget"))
        else:
            break  # everything after this one is newer and the budget holds
        remaining -= size
    for path, size, why in doomed:
        path.unlink(missing_ok=True)
        result.freed_bytes += size
        if why == "expired":
            result.expired += 1
        else:
            result.over_budget += 1
    result.total_bytes = total - result.freed_bytes
    if doomed:
        gone = [str(p.relative_to(config.root)) for p, _, _ in doomed]
        with transaction.atomic():
            RecordingSegment.objects.filter(file__in=gone).delete()
        if result.over_budget:
            log.warning("disk budget: deleted %d segments before their retention period ended", result.over_budget)
    return result


def forget_missing(config: StreamConfig) -> int:
    """Drop index rows whose file is gone (deleted by hand or by a disk cleanup)."""
    gone = [row.pk for row in RecordingSegment.objects.only("pk", "file") if not (config.root / row.file).exists()]
    if gone:
        RecordingSegment.objects.filter(pk__in=gone).delete()
    return len(gone)
