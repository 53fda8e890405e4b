"""Simulated cameras for the demo and the tests: ffmpeg test patterns (with the wall clock burnt
in) pushed as MPEG-TS over UDP to 127.0.0.1. No RTSP server is needed (mediamtx is not in
Debian); the relay reads udp:// exactly as it reads rtsp://. See docs/decisions.md ## Kitchen."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field

from . import ffmpeg as ff

log = logging.getLogger("canteen.kitchen.simulate")

# Still scenes with the ticking clock burnt in (as a real camera's OSD), a different one per area;
# the storeroom has something moving in it, so after hours the demo shows an intrusion alarm.
PATTERNS = {
    "receiving": "smptebars",
    "washing_cutting": "smptehdbars",
    "cooking": "pal75bars",
    "portioning": "rgbtestsrc",
    "storage": "testsrc2",
    "disinfection": "yuvtestsrc",
}


@dataclass
class SimulatedCameras:
    """Keeps one test source per URL running; restarts any that exits."""

    ffmpeg: str = "ffmpeg"
    size: str = "480x270"
    rate: int = 10
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    specs: dict[str, tuple[str, str]] = field(default_factory=dict)  # url -> (label, pattern)

    def add(self, url: str, *, label: str = "", pattern: str = "testsrc") -> None:
        self.specs[url] = (label, pattern)

    def tick(self) -> None:
        for url, (label, pattern) in self.specs.items():
            proc = self.procs.get(url)
            if proc is None or proc.poll() is not None:
                argv = ff.simulated_camera_argv(
                    url, label=label, pattern=pattern, size=self.size, rate=self.rate, ffmpeg=self.ffmpeg
                )
                self.procs[url] = ff.spawn(argv)
                log.info("simulated camera at %s started", url)

    def stop(self, url: str | None = None) -> None:
        for key in [url] if url else list(self.procs):
            proc = self.procs.pop(key, None)
            if proc is not None:
                ff.kill_group(proc)
            if url:
                self.specs.pop(key, None)

    def __enter__(self) -> SimulatedCameras:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
