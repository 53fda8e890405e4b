"""Retention rules on the index, without ffmpeg: age first, then the disk budget oldest-first
across all cameras; files being written are never touched; orphans swept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from canteen.kitchen import services
from canteen.kitchen.choices import Area
from canteen.kitchen.models import RecordingSegment
from canteen.kitchen.streaming.recordings import enforce_retention, sweep_orphans

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _camera(world, name):
    return services.camera_create(
        actor=None, canteen=world.canteens[0], name=name, area=Area.COOKING, stream_url="rtsp://10.0.0.1/" + name
    )


def _segment(config, camera, minutes_ago, size=1000, *, index=True):
    start = NOW - timedelta(minutes=minutes_ago)
    path = config.rec_dir(camera.id) / f"{start:%Y%m%dT%H%M%SZ}.ts"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x47" * size)
    if index:
        RecordingSegment.objects.create(
            camera=camera, start_at=start, duration_s=60, file=str(path.relative_to(config.root)), size_bytes=size
        )
    return path


def test_expired_segments_go_and_the_rest_stay(world, stream_config):
    stream_config.segment_seconds, stream_config.retention_seconds = 60, 7 * 86400
    camera = _camera(world, "a")
    old = _segment(stream_config, camera, minutes_ago=7 * 1440 + 5)
    young = _segment(stream_config, camera, minutes_ago=7 * 1440 - 5)
    result = enforce_retention(stream_config, now=NOW)
    assert (result.expired, result.over_budget) == (1, 0)
    assert not old.exists()
    assert young.exists()
    assert RecordingSegment.objects.count() == 1


def test_over_budget_the_oldest_of_any_camera_go_first_and_open_files_count(world, stream_config):
    stream_config.segment_seconds, stream_config.retention_seconds = 60, 7 * 86400
    a, b = _camera(world, "a"), _camera(world, "b")
    a1 = _segment(stream_config, a, minutes_ago=50)
    b1 = _segment(stream_config, b, minutes_ago=40)
    a2 = _segment(stream_config, a, minutes_ago=30)
    b2 = _segment(stream_config, b, minutes_ago=20)
    writing = _segment(stream_config, a, minutes_ago=1, index=False)
    stream_config.budget_bytes = 3000  # 4 indexed + 1 being written = 5000
    result = enforce_retention(stream_config, open_files={writing}, now=NOW)
    assert result.over_budget == 2
    assert result.total_bytes == 3000
    assert [p.exists() for p in (a1, b1, a2, b2, writing)] == [False, False, True, True, True]


def test_orphan_files_older_than_retention_are_swept(world, stream_config):
    stream_config.segment_seconds, stream_config.retention_seconds = 60, 3600
    camera = _camera(world, "a")
    orphan = _segment(stream_config, camera, minutes_ago=120, index=False)
    recent = _segment(stream_config, camera, minutes_ago=10, index=False)
    assert sweep_orphans(stream_config, now=NOW) == 1
    assert not orphan.exists()
    assert recent.exists()
