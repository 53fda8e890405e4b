"""Where the stream files live and how the supervisor behaves; every value can be set in
settings (CANTEEN_KITCHEN_*) or the environment, so no settings edit is needed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings


def _setting(name: str, default: float) -> float:
    return float(os.environ.get(name) or getattr(settings, name, default))


def kitchen_dir() -> Path:
    """Root of live playlists, recordings, snapshots and clips (CANTEEN_KITCHEN_DIR)."""
    path = os.environ.get("CANTEEN_KITCHEN_DIR") or getattr(settings, "CANTEEN_KITCHEN_DIR", None)
    return Path(path) if path else Path(settings.DATA_DIR) / "kitchen"


@dataclass
class StreamConfig:
    root: Path = field(default_factory=kitchen_dir)
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    hls_time: float = 1.0  # seconds per live segment: low latency, a keyframe each second
    hls_list_size: int = 6
    segment_seconds: int = 60  # recording segment length
    retention_seconds: int = 7 * 24 * 3600  # 明厨亮灶 guidance: keep video ≥ 7 days
    budget_bytes: int = 200 * 1024**3  # disk budget for all recordings together
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    stable_after: float = 30.0  # a run this long resets the backoff
    stall_seconds: float = 15.0  # no new frame for this long: kill and restart
    input_timeout_s: float = 5.0  # ffmpeg gives up reading a silent source after this
    health_every: float = 2.0
    retention_every: float = 10.0
    copyts: bool = False  # keep source timestamps (the benchmark measures latency with them)

    @classmethod
    def from_settings(cls, **overrides) -> StreamConfig:
        config = cls(
            segment_seconds=int(_setting("CANTEEN_KITCHEN_SEGMENT_SECONDS", 60)),
            retention_seconds=int(_setting("CANTEEN_KITCHEN_RETENTION_DAYS", 7.0) * 86400),
            budget_bytes=int(_setting("CANTEEN_KITCHEN_BUDGET_GB", 200.0) * 1024**3),
        )
        for key, value in overrides.items():
            setattr(config, key, value)
        config.root = Path(config.root)
        return config

    def camera_dir(self, camera_id) -> Path:
        return self.root / "streams" / str(camera_id)

    def live_dir(self, camera_id) -> Path:
        return self.camera_dir(camera_id) / "live"

    def rec_dir(self, camera_id) -> Path:
        return self.camera_dir(camera_id) / "rec"

    def alarm_dir(self, camera_id) -> Path:
        return self.root / "alarms" / str(camera_id)
