"""The stream supervisor behind `canteen streams`: one ffmpeg per enabled camera, restarted with
exponential backoff when it fails or stalls; health rows, the recordings index and the retention
rules kept up to date. It is the only process that runs video work besides the analyser."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from ..choices import Codec, HealthStatus
from ..models import Camera, CameraHealth
from . import ffmpeg as ff
from .config import StreamConfig
from .recordings import enforce_retention, index_segments, segment_files, sweep_orphans

log = logging.getLogger("canteen.kitchen.streams")


def camera_input_url(camera: Camera) -> str:
    """The address with its decrypted credentials: used only here, handed only to ffmpeg."""
    from ..crypto import decrypt_credentials

    username, password = decrypt_credentials(str(camera.id), camera.credentials_enc)
    return ff.with_credentials(camera.stream_url, username, password)


@dataclass
class Relay:
    camera_id: str
    url: str
    transcode: bool
    config: StreamConfig
    proc: subprocess.Popen | None = None
    progress: ff.Progress = field(default_factory=ff.Progress)
    started_at: float = 0.0
    failures: int = 0  # consecutive failures, for the backoff
    restarts: int = 0
    next_start: float = 0.0
    last_frame_mono: float = 0.0
    last_frame_at: datetime | None = None
    last_exit_code: int | None = None
    last_error: str = ""
    _reader: threading.Thread | None = None

    @property
    def dir(self) -> Path:
        return self.config.camera_dir(self.camera_id)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, now: float) -> None:
        live, rec = self.dir / "live", self.dir / "rec"
        shutil.rmtree(live, ignore_errors=True)  # a stale playlist must not look live
        live.mkdir(parents=True, exist_ok=True)
        rec.mkdir(parents=True, exist_ok=True)
        argv = ff.relay_argv(self.url, self.dir, self.config, transcode=self.transcode)
        # Sequence numbers from the epoch keep growing across restarts, which players expect.
        hls_at = argv.index("-hls_segment_filename")
        argv[hls_at:hls_at] = ["-hls_start_number_source", "epoch"]
        log_file = (self.dir / "ffmpeg.log").open("wb")
        env = {"TZ": "UTC", "PATH": "/usr/bin:/bin:/usr/local/bin"}  # recording names are UTC
        self.proc = ff.spawn(argv, stdout=subprocess.PIPE, stderr=log_file, env=env)
        log_file.close()
        self.progress = ff.Progress()
        self.started_at = self.last_frame_mono = now
        self._reader = threading.Thread(target=self._read_progress, args=(self.proc,), daemon=True)
        self._reader.start()
        log.info("camera %s: relay started (pid %s)", self.camera_id, self.proc.pid)

    def _read_progress(self, proc: subprocess.Popen) -> None:
        try:
            self._read_progress_lines(proc)
        except (ValueError, OSError):
            # stop() closed the pipe under us while ffmpeg was being stopped: nothing left to read.
            return

    def _read_progress_lines(self, proc: subprocess.Popen) -> None:
        block: list[str] = []
        for raw in proc.stdout:  # type: ignore[union-attr]
            line = raw.decode(errors="replace")
            block.append(line)
            if line.startswith("progress="):
                before = self.progress.frame
                ff.parse_progress_block(block, self.progress)
                block.clear()
                if self.progress.frame > before:
                    self.last_frame_mono = time.monotonic()
                    self.last_frame_at = timezone.now()

    def poll(self, now: float) -> None:
        """Notice an exit or a stall; schedule the restart with exponential backoff."""
        if self.proc is None:
            return
        code = self.proc.poll()
        if code is None and now - self.last_frame_mono > self.config.stall_seconds:
            log.warning("camera %s: no frame for %.0f s, restarting", self.camera_id, now - self.last_frame_mono)
            ff.kill_group(self.proc)
            code = self.proc.poll()
        if code is None:
            return
        ran = now - self.started_at
        self.failures = 0 if ran >= self.config.stable_after else self.failures + 1
        delay = min(self.config.backoff_base * (2 ** max(self.failures - 1, 0)), self.config.backoff_max)
        self.next_start = now + delay
        self.last_exit_code = code
        self.last_error = _tail(self.dir / "ffmpeg.log")
        self.restarts += 1
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        log.warning("camera %s: relay exited (%s) after %.1f s; retry in %.1f s", self.camera_id, code, ran, delay)

    def stop(self) -> None:
        if self.proc is not None:
            ff.kill_group(self.proc)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    def status(self, now: float) -> str:
        if self.running:
            if self.progress.frame == 0:
                return HealthStatus.STARTING
            return HealthStatus.ONLINE if now - self.last_frame_mono <= 5.0 else HealthStatus.OFFLINE
        return HealthStatus.BACKOFF

    def live_stats(self) -> tuple[int, datetime | None]:
        """Bitrate (kbit/s) over the segments in the live playlist, and the newest one's time."""
        playlist = self.dir / "live" / "index.m3u8"
        try:
            entries = ff.parse_playlist(playlist.read_text())
        except (FileNotFoundError, ValueError):
            return 0, None
        size = seconds = 0.0
        newest = None
        for name, duration in entries:
            try:
                st = (self.dir / "live" / name).stat()
            except FileNotFoundError:
                continue
            size += st.st_size
            seconds += duration
            newest = max(newest or 0.0, st.st_mtime)
        kbps = int(size * 8 / seconds / 1000) if seconds else 0
        return kbps, datetime.fromtimestamp(newest, UTC) if newest else None

    def open_segment(self) -> Path | None:
        files = segment_files(self.config, self.camera_id)
        return files[-1][1] if files and self.running else None


def _tail(path: Path, size: int = 800) -> str:
    try:
        data = path.read_bytes()[-size:]
    except FileNotFoundError:
        return ""
    return data.decode(errors="replace").strip()


class StreamSupervisor:
    def __init__(
        self,
        config: StreamConfig,
        *,
        camera_filter: Callable[[Camera], bool] | None = None,
        on_tick: Callable[[StreamSupervisor], None] | None = None,
    ) -> None:
        self.config = config
        self.camera_filter = camera_filter
        self.on_tick = on_tick
        self.relays: dict[str, Relay] = {}
        self._last_health = 0.0
        self._last_retention = 0.0
        self._last_sync = 0.0
        self._last_orphans = 0.0

    # -- cameras ---------------------------------------------------------------------------
    def sync_cameras(self) -> None:
        cameras = [c for c in Camera.objects.filter(enabled=True) if not self.camera_filter or self.camera_filter(c)]
        wanted: dict[str, tuple[str, bool]] = {}
        for camera in cameras:
            try:
                wanted[str(camera.id)] = (camera_input_url(camera), camera.codec != Codec.H264)
            except Exception:  # unreadable credentials: report, keep the others running
                log.exception("camera %s: cannot build its input address", camera.id)
        for camera_id in list(self.relays):
            relay = self.relays[camera_id]
            if camera_id not in wanted or (relay.url, relay.transcode) != wanted[camera_id]:
                relay.stop()
                del self.relays[camera_id]
                if camera_id not in wanted:
                    CameraHealth.objects.filter(camera_id=camera_id).update(status=HealthStatus.DISABLED)
        for camera_id, (url, transcode) in wanted.items():
            if camera_id not in self.relays:
                self.relays[camera_id] = Relay(camera_id, url, transcode, self.config)

    # -- the loop ---------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if now - self._last_sync >= 10.0 or not self.relays:
            self._last_sync = now
            self.sync_cameras()
        for relay in self.relays.values():
            relay.poll(now)
            if relay.proc is None and now >= relay.next_start:
                relay.start(now)
        if now - self._last_health >= self.config.health_every:
            self._last_health = now
            self.write_health(now)
        if now - self._last_retention >= self.config.retention_every:
            self._last_retention = now
            self.maintain_recordings()
        if self.on_tick:
            self.on_tick(self)

    def write_health(self, now: float) -> None:
        at = timezone.now()
        for camera_id, relay in self.relays.items():
            kbps, newest = relay.live_stats()
            values = {
                "status": relay.status(now),
                "last_frame_at": relay.last_frame_at,
                "last_segment_at": newest,
                "bitrate_kbps": kbps,
                "fps": relay.progress.fps,
                "frames": relay.progress.frame,
                "restarts": relay.restarts,
                "last_exit_code": relay.last_exit_code,
                "last_error": relay.last_error[-1000:],
                "heartbeat_at": at,
            }
            try:
                CameraHealth.objects.update_or_create(camera_id=camera_id, defaults=values)
            except DatabaseError:
                log.exception("cannot write health of camera %s", camera_id)
                close_old_connections()

    def maintain_recordings(self) -> None:
        try:
            cameras = {str(c.id): c for c in Camera.objects.filter(id__in=list(self.relays))}
            for camera_id, relay in self.relays.items():
                if camera_id in cameras:
                    index_segments(self.config, cameras[camera_id], writing=relay.running)
            open_files = {p for r in self.relays.values() if (p := r.open_segment())}
            enforce_retention(self.config, open_files=open_files)
            if time.monotonic() - self._last_orphans >= 3600:
                self._last_orphans = time.monotonic()
                sweep_orphans(self.config, open_files=open_files)
        except DatabaseError:
            log.exception("recordings maintenance failed")
            close_old_connections()

    def run(self, *, stop: threading.Event | None = None, interval: float = 0.5) -> None:
        stop = stop or threading.Event()
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(interval)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        for relay in self.relays.values():
            relay.stop()
        now = timezone.now()
        try:
            CameraHealth.objects.filter(camera_id__in=list(self.relays)).update(
                status=HealthStatus.OFFLINE, heartbeat_at=now
            )
        except DatabaseError:
            pass


def is_local_udp(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "udp" and parts.hostname in {"127.0.0.1", "localhost"}
