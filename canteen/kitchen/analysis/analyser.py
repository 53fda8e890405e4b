"""The analyser behind `canteen analyse` (started by `canteen streams`): every few seconds it
decodes one frame per camera from the newest live segment the relay wrote, runs the detectors,
and raises alarms with a JPEG snapshot and a short clip cut from the recordings (-c copy).
It reads files only; it never touches the cameras itself."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import numpy as np
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from ..choices import AlarmKind
from ..models import Alarm, Camera, KitchenSchedule
from ..streaming import ffmpeg as ff
from ..streaming.config import StreamConfig
from ..streaming.recordings import segment_files
from .detectors import Detector, Finding, Sample
from .plugins import all_detectors

log = logging.getLogger("canteen.kitchen.analysis")

DEFAULT_HOURS = (dtime(5, 30), dtime(19, 30), [0, 1, 2, 3, 4])


def is_working(schedule: KitchenSchedule | None, at: datetime) -> bool:
    start, end, days = (schedule.work_start, schedule.work_end, schedule.work_days) if schedule else DEFAULT_HOURS
    local = timezone.localtime(at)
    return local.weekday() in days and start <= local.time() < end


def decode_frame(segment: Path, out_jpeg: Path, *, ffmpeg: str = "ffmpeg") -> np.ndarray | None:
    """The first (key)frame of a segment, written as JPEG and returned as a BGR array."""
    import cv2

    result = subprocess.run(  # noqa: S603 - an argv list we build, no shell
        [ffmpeg, "-v", "error", "-nostdin", "-i", str(segment), "-frames:v", "1", "-q:v", "3", "-y", str(out_jpeg)],
        capture_output=True,
        timeout=20,
        check=False,
    )
    if result.returncode != 0 or not out_jpeg.exists():
        return None
    return cv2.imread(str(out_jpeg), cv2.IMREAD_COLOR)


def cut_clip(config: StreamConfig, camera_id: str, *, start: datetime, seconds: float, out: Path) -> bool:
    """Copy [start, start+seconds] out of the recording segments (no re-encode)."""
    files = segment_files(config, camera_id)
    chosen = [
        (s, p)
        for i, (s, p) in enumerate(files)
        if s <= start + timedelta(seconds=seconds) and (i + 1 == len(files) or files[i + 1][0] > start)
    ]
    if not chosen:
        return False
    offset = max((start - chosen[0][0]).total_seconds(), 0.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        for _, path in chosen:
            listing.write(f"file '{path.resolve()}'\n")
    try:
        result = subprocess.run(  # noqa: S603 - an argv list we build, no shell
            [
                config.ffmpeg,
                "-v",
                "error",
                "-nostdin",
                "-f",
                "concat",
                "-safe",
                "0",
                "-ss",
                f"{offset:.2f}",
                "-t",
                f"{seconds:.2f}",
                "-i",
                listing.name,
                "-c",
                "copy",
                "-movflags",
                "+faststart",
                "-y",
                str(out),
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        Path(listing.name).unlink(missing_ok=True)
    return result.returncode == 0 and out.exists() and out.stat().st_size > 0


@dataclass
class CameraState:
    camera: Camera
    last_segment: str = ""
    last_sample: float = 0.0
    detector_state: dict[str, dict] = field(default_factory=dict)
    dark_since_alarm: bool = False
    seen_at: float = field(default_factory=time.monotonic)


class Analyser:
    def __init__(
        self,
        config: StreamConfig,
        *,
        detectors: list[Detector] | None = None,
        sample_every: float = 5.0,
        dark_after: float = 30.0,
        cooldown: float = 600.0,
        clip_before: float = 8.0,
        clip_after: float = 4.0,
    ) -> None:
        self.config = config
        self.detectors = detectors if detectors is not None else all_detectors()
        self.sample_every, self.dark_after, self.cooldown = sample_every, dark_after, cooldown
        self.clip_before, self.clip_after = clip_before, clip_after
        self.cameras: dict[str, CameraState] = {}
        self.schedules: dict[str, KitchenSchedule] = {}
        self._last_sync = -1e9
        self._clip_tries: dict = {}

    def sync(self) -> None:
        cameras = {str(c.id): c for c in Camera.objects.filter(enabled=True).select_related("canteen__campus__school")}
        for camera_id in list(self.cameras):
            if camera_id not in cameras:
                del self.cameras[camera_id]
        for camera_id, camera in cameras.items():
            if camera_id in self.cameras:
                self.cameras[camera_id].camera = camera
            else:
                self.cameras[camera_id] = CameraState(camera)
        self.schedules = {str(s.canteen_id): s for s in KitchenSchedule.objects.all()}

    def tick(self, now: float | None = None) -> list[Alarm]:
        now = time.monotonic() if now is None else now
        if now - self._last_sync >= 30.0:
            self._last_sync = now
            self.sync()
        raised: list[Alarm] = []
        for state in self.cameras.values():
            try:
                raised += self._check_camera(state, now)
            except DatabaseError:
                log.exception("camera %s: analysis failed", state.camera.id)
                close_old_connections()
        self.attach_clips()
        return raised

    def _newest_segment(self, camera_id: str) -> Path | None:
        live = self.config.live_dir(camera_id)
        try:
            entries = ff.parse_playlist((live / "index.m3u8").read_text())
        except FileNotFoundError:
            return None
        return live / entries[-1][0] if entries else None

    def _check_camera(self, state: CameraState, now: float) -> list[Alarm]:
        camera_id = str(state.camera.id)
        segment = self._newest_segment(camera_id)
        fresh = segment is not None and segment.exists() and time.time() - segment.stat().st_mtime < self.dark_after
        if not fresh:
            if not state.dark_since_alarm and now - state.seen_at >= self.dark_after:
                state.dark_since_alarm = True
                return self._raise(state, Finding(AlarmKind.DARK, 1.0, {"after_s": self.dark_after}), None)
            return []
        state.seen_at = now
        state.dark_since_alarm = False
        if now - state.last_sample < self.sample_every or segment.name == state.last_segment:
            return []
        state.last_sample, state.last_segment = now, segment.name
        with tempfile.TemporaryDirectory(prefix="kitchen-frame-") as tmp:
            jpeg = Path(tmp) / "frame.jpg"
            image = decode_frame(segment, jpeg, ffmpeg=self.config.ffmpeg)
            if image is None:
                return []
            import cv2

            gray = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (160, 90), interpolation=cv2.INTER_AREA)
            at = timezone.now()
            sample = Sample(
                camera_id=camera_id,
                at=at,
                gray=gray,
                image=image,
                working=is_working(self.schedules.get(str(state.camera.canteen_id)), at),
                area=state.camera.area,
            )
            alarms = []
            for detector in self.detectors:
                try:
                    findings = detector.analyse(sample, state.detector_state.setdefault(detector.name, {}))
                except Exception:  # a plug-in's bug must not stop the others
                    log.exception("detector %s failed on camera %s", detector.name, camera_id)
                    continue
                for finding in findings:
                    alarms += self._raise(state, finding, jpeg)
            return alarms

    def _raise(self, state: CameraState, finding: Finding, jpeg: Path | None) -> list[Alarm]:
        from ..services import alarm_raise

        camera = state.camera
        at = timezone.now()
        recent = Alarm.objects.filter(
            camera=camera, kind=finding.kind, at__gte=at - timedelta(seconds=self.cooldown)
        ).exists()
        if recent:
            return []
        snapshot = ""
        if jpeg is not None:
            target = self.config.alarm_dir(camera.id) / f"{at:%Y%m%dT%H%M%S}-{finding.kind.replace(':', '_')}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(jpeg, target)
            snapshot = str(target.relative_to(self.config.root))
        alarm = alarm_raise(
            camera=camera, kind=finding.kind, at=at, snapshot=snapshot, score=finding.score, detail=finding.detail
        )
        log.warning("camera %s: alarm %s (%s)", camera.id, finding.kind, finding.detail)
        return [alarm]

    def attach_clips(self) -> int:
        """Clips are cut once the seconds after the alarm are recorded (dark alarms have none)."""
        from ..services import alarm_attach_clip

        now = timezone.now()
        pending = Alarm.objects.filter(
            clip="",
            at__lte=now - timedelta(seconds=self.clip_after),
            at__gte=now - timedelta(minutes=10),
        ).exclude(kind=AlarmKind.DARK)
        done = 0
        for alarm in pending:
            if self._clip_tries.get(alarm.id, 0) >= 3:
                continue  # no recording covers it (the relay was down): stop trying
            self._clip_tries[alarm.id] = self._clip_tries.get(alarm.id, 0) + 1
            out = self.config.alarm_dir(alarm.camera_id) / f"{alarm.at:%Y%m%dT%H%M%S}-{alarm.id.hex[:8]}.mp4"
            start = alarm.at - timedelta(seconds=self.clip_before)
            if cut_clip(
                self.config, str(alarm.camera_id), start=start, seconds=self.clip_before + self.clip_after, out=out
            ):
                alarm_attach_clip(alarm_id=alarm.id, clip=str(out.relative_to(self.config.root)))
                done += 1
        return done

    def run(self, *, stop=None, interval: float = 1.0) -> None:
        import threading

        stop = stop or threading.Event()
        while not stop.is_set():
            self.tick()
            stop.wait(interval)
