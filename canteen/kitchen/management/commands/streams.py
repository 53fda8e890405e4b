"""`canteen streams [--demo]`: the stream supervisor (one ffmpeg relay per camera) and, as a
child process, the analyser. `--demo` also runs the simulated cameras of the demo district."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from django.core.management.base import BaseCommand

from canteen.kitchen.models import Camera
from canteen.kitchen.streaming.config import StreamConfig
from canteen.kitchen.streaming.ffmpeg import kill_group, spawn
from canteen.kitchen.streaming.simulate import PATTERNS, SimulatedCameras
from canteen.kitchen.streaming.supervisor import StreamSupervisor, is_local_udp

log = logging.getLogger("canteen.kitchen.streams")


class Command(BaseCommand):
    help = "Relay camera streams to live HLS and recordings; restart failed relays; run the analyser."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="also run simulated cameras for local udp:// cameras")
        parser.add_argument("--no-analyse", action="store_true", help="do not start the analyser process")
        parser.add_argument("--seconds", type=float, default=0, help="stop after this many seconds (0: run forever)")

    def handle(self, *args, demo: bool = False, no_analyse: bool = False, seconds: float = 0, **options):
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        config = StreamConfig.from_settings()
        sim = SimulatedCameras()
        analyser: subprocess.Popen | None = None
        started = time.monotonic()
        last_demo_sync = -1e9

        def on_tick(supervisor: StreamSupervisor) -> None:
            nonlocal analyser, last_demo_sync
            if demo and time.monotonic() - last_demo_sync >= 10:
                last_demo_sync = time.monotonic()
                wanted = {c.stream_url: c for c in Camera.objects.filter(enabled=True) if is_local_udp(c.stream_url)}
                for url, camera in wanted.items():
                    if url not in sim.specs:
                        label = f"{camera.canteen.code} {camera.area}"
                        sim.add(url, label=label, pattern=PATTERNS.get(camera.area, "testsrc"))
            if demo:
                sim.tick()  # restarts a simulated camera that died
            if not no_analyse and (analyser is None or analyser.poll() is not None):
                if analyser is not None:
                    log.warning("analyser exited (%s); restarting", analyser.returncode)
                analyser = spawn([sys.executable, "-m", "canteen.cli", "analyse"], stdout=None, stderr=None,
                                 env=dict(os.environ))  # fmt: skip
            if seconds and time.monotonic() - started >= seconds:
                stop.set()

        supervisor = StreamSupervisor(config, on_tick=on_tick)
        self.stdout.write(f"streams: recordings and live playlists under {config.root}")
        try:
            supervisor.run(stop=stop)
        finally:
            if analyser is not None:
                kill_group(analyser)
            sim.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
