"""The stream supervisor against real ffmpeg: live HLS within seconds, recordings rotating under
the retention rules and the disk budget, a killed ffmpeg restarted with backoff."""

from __future__ import annotations

import os
import signal
import time

import pytest

from canteen.kitchen import services
from canteen.kitchen.choices import Area, HealthStatus
from canteen.kitchen.models import CameraHealth, RecordingSegment
from canteen.kitchen.streaming import ffmpeg as ff
from canteen.kitchen.streaming.recordings import segment_files
from canteen.kitchen.streaming.supervisor import Relay

from .conftest import run_until

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _camera(world, url, name="后厨1"):
    return services.camera_create(
        actor=world.user("canteen_manager"), canteen=world.canteens[0], name=name, area=Area.COOKING, stream_url=url
    )


def _segments(playlist):
    return ff.parse_playlist(playlist.read_text()) if playlist.exists() else []


def test_live_hls_appears_within_seconds_and_health_says_online(world, udp_url, cameras_sim, supervisor):
    url = udp_url()
    camera = _camera(world, url)
    cameras_sim.add(url, label="CAM1")
    cameras_sim.tick()
    playlist = supervisor.config.live_dir(camera.id) / "index.m3u8"

    took = run_until(supervisor.tick, lambda: len(_segments(playlist)) >= 2, timeout=12)

    assert took < 10, f"live view took {took:.1f} s"
    text = playlist.read_text()
    assert "#EXT-X-TARGETDURATION:1" in text
    assert "#EXT-X-ENDLIST" not in text
    first = supervisor.config.live_dir(camera.id) / _segments(playlist)[0][0]
    assert first.stat().st_size > 1000  # real MPEG-TS video, not an empty file
    run_until(supervisor.tick, lambda: CameraHealth.objects.get(camera=camera).frames > 0, timeout=5)
    health = CameraHealth.objects.get(camera=camera)
    assert health.status == HealthStatus.ONLINE
    assert health.bitrate_kbps > 0
    assert health.last_frame_at is not None
    assert health.last_segment_at is not None


def test_recordings_rotate_by_age_then_by_disk_budget(world, udp_url, cameras_sim, supervisor):
    config = supervisor.config
    config.retention_seconds = 3  # keep 3 s of 1 s segments
    url = udp_url()
    camera = _camera(world, url)
    cameras_sim.add(url, label="REC")
    cameras_sim.tick()

    def files():
        return segment_files(config, camera.id)

    # Enough time for old segments to expire and be deleted, oldest first.
    run_until(supervisor.tick, lambda: RecordingSegment.objects.filter(camera=camera).count() >= 2, timeout=15)
    time.sleep(0.1)
    run_until(
        supervisor.tick,
        lambda: files() and (time.time() - files()[0][0].timestamp()) < 6 and len(files()) >= 3,
        timeout=15,
    )
    newest_start = files()[-1][0].timestamp()
    oldest_start = files()[0][0].timestamp()
    assert newest_start - oldest_start <= config.retention_seconds + 2 * config.segment_seconds + 1
    on_disk = {str(p.relative_to(config.root)) for _, p in files()}
    indexed = set(RecordingSegment.objects.filter(camera=camera).values_list("file", flat=True))
    assert indexed <= on_disk, "the index must not list deleted segments"

    # Now a disk budget of about two segments: the oldest go first, the one being written stays.
    config.retention_seconds = 3600
    sizes = sorted(p.stat().st_size for _, p in files())
    config.budget_bytes = sizes[len(sizes) // 2] * 2
    before = [start for start, _ in files()]
    time.sleep(3)  # with retention at an hour, only the budget can delete anything now
    run_until(supervisor.tick, lambda: len(files()) <= 4, timeout=10)
    after = files()
    # Between the supervisor's pass and this check one more segment may have been closed.
    assert sum(p.stat().st_size for _, p in after[:-1]) <= config.budget_bytes + max(sizes) * 2
    assert after[0][0] > before[0]
    assert after[-1][0].timestamp() >= newest_start


def test_killed_ffmpeg_is_restarted_and_counted(world, udp_url, cameras_sim, supervisor):
    url = udp_url()
    camera = _camera(world, url)
    cameras_sim.add(url, label="KILL")
    cameras_sim.tick()
    playlist = supervisor.config.live_dir(camera.id) / "index.m3u8"
    run_until(supervisor.tick, lambda: len(_segments(playlist)) >= 1, timeout=12)
    relay = supervisor.relays[str(camera.id)]
    first_pid = relay.proc.pid

    os.killpg(first_pid, signal.SIGKILL)

    run_until(
        supervisor.tick,
        lambda: relay.proc is not None and relay.proc.pid != first_pid and len(_segments(playlist)) >= 1,
        timeout=12,
    )
    assert relay.restarts == 1
    assert relay.last_exit_code == -signal.SIGKILL
    run_until(supervisor.tick, lambda: CameraHealth.objects.get(camera=camera).restarts == 1, timeout=5)
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)  # the old one is gone, not a zombie left behind


def test_a_failing_source_is_retried_with_growing_backoff(stream_config, tmp_path):
    stream_config.backoff_base, stream_config.backoff_max = 0.2, 0.8
    relay = Relay("broken", f"file://{tmp_path}/missing.ts", False, stream_config)
    delays = []
    deadline = time.monotonic() + 15
    try:
        while len(delays) < 4 and time.monotonic() < deadline:
            now = time.monotonic()
            relay.poll(now)
            if relay.proc is None:
                if relay.restarts > len(delays):
                    delays.append(round(relay.next_start - now, 1))
                if now >= relay.next_start:
                    relay.start(now)
            time.sleep(0.05)
    finally:
        relay.stop()
    assert delays == [0.2, 0.4, 0.8, 0.8]  # doubled each time, capped at backoff_max
    assert "missing.ts" in relay.last_error  # ffmpeg's own message is kept for the health page
