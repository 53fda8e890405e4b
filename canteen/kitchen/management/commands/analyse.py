"""`canteen analyse`: the video analyser (sampled frames → detectors → alarms). Normally started
by `canteen streams`; never part of the web process."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from canteen.kitchen.analysis.analyser import Analyser
from canteen.kitchen.streaming.config import StreamConfig


class Command(BaseCommand):
    help = "Analyse sampled frames of every camera and raise alarms."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=5.0, help="seconds between samples of one camera")

    def handle(self, *args, every: float = 5.0, **options):
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        analyser = Analyser(StreamConfig.from_settings(), sample_every=every)
        self.stdout.write(f"analyse: {len(analyser.detectors)} detectors: {[d.name for d in analyser.detectors]}")
        analyser.run(stop=stop)
