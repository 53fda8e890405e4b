"""`canteen terminal`: the window terminal process.

    canteen terminal --server https://canteen.example --source 0            # camera 0
    canteen terminal --server http://127.0.0.1:8000 --source clip.mp4 --fps 15
    canteen terminal --sync-only                                            # drain the queue, exit

The token comes from --token or CANTEEN_TERMINAL_TOKEN (better: not on the command line)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from canteen.consumption.terminal.agent import TerminalAgent
from canteen.consumption.terminal.client import ServerClient
from canteen.consumption.terminal.frames import frames
from canteen.consumption.terminal.kiosk import KioskServer, KioskState
from canteen.consumption.terminal.store import Store

log = logging.getLogger("canteen.terminal")


class Command(BaseCommand):
    requires_system_checks: list = []  # a device process: start fast, it has no database
    help = "Run a window terminal: camera → face match → checkout → kiosk screen, with an offline queue."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--server", default=os.environ.get("CANTEEN_TERMINAL_SERVER", "http://127.0.0.1:8000"))
        parser.add_argument("--token", default=os.environ.get("CANTEEN_TERMINAL_TOKEN", ""))
        parser.add_argument("--source", default="", help="camera index, video file or folder of images")
        parser.add_argument(
            "--fps", type=float, default=0, help="pace files/folders like a camera (0: as fast as possible)"
        )
        parser.add_argument("--repeat", type=int, default=1, help="show each folder image this many frames")
        parser.add_argument(
            "--data-dir",
            default=os.environ.get("CANTEEN_TERMINAL_DIR", str(Path(settings.DATA_DIR) / "terminal")),
            help="where the queue, gallery and roster are kept",
        )
        parser.add_argument("--kiosk-host", default="127.0.0.1")
        parser.add_argument("--kiosk-port", type=int, default=8765, help="0: pick a free port")
        parser.add_argument("--no-kiosk", action="store_true")
        parser.add_argument("--once", action="store_true", help="exit when the source ends and the queue is synced")
        parser.add_argument("--sync-only", action="store_true", help="only sync the queue, then exit")
        parser.add_argument("--sync-pause", type=float, default=0.0, help="seconds between synced checkouts")
        parser.add_argument("--cooldown", type=float, default=8.0, help="seconds before the same face counts again")
        parser.add_argument("--timeout", type=float, default=3.0, help="HTTP timeout in seconds")
        parser.add_argument(
            "--min-face-px",
            type=int,
            default=100,
            help="smallest face width to look for (px); 80 or less scans the whole pyramid, "
            "which finds the queue behind too and costs more per frame",
        )
        parser.add_argument(
            "--stats-file", default="", help="write identify/checkout/frame-to-screen times here (JSON)"
        )
        parser.add_argument("--linger", type=float, default=0.0, help="keep the kiosk up this long after --once")

    def handle(self, *args, **opts) -> None:
        token = opts["token"]
        if not token:
            raise CommandError("a terminal token is required (--token or CANTEEN_TERMINAL_TOKEN)")
        data_dir = Path(opts["data_dir"])
        store = Store(data_dir / "terminal.sqlite3")
        kiosk_state = KioskState()
        client = ServerClient(opts["server"], token, timeout=opts["timeout"])
        engine = None
        liveness = None
        if not opts["sync_only"]:
            from canteen.identity.engine import FaceEngine

            engine = FaceEngine.default()
            from canteen.identity.liveness import LivenessCheck

            liveness = LivenessCheck.default()
        agent = TerminalAgent(
            client=client,
            store=store,
            kiosk=kiosk_state,
            token=token,
            engine=engine,
            cooldown=opts["cooldown"],
            sync_pause=opts["sync_pause"],
            min_face_px=opts["min_face_px"],
            liveness=liveness,
        )
        # SIGTERM (systemd stop) ends the loop cleanly; SIGKILL needs nothing: the queue is durable.
        signal.signal(signal.SIGTERM, lambda *_: agent.stop())

        agent.start()
        if opts["sync_only"]:
            drained = agent.drain(timeout=120)
            if agent.auth_failed:
                # Not "complete", and not exit 0: the rows wait for a valid token.
                self.stdout.write(
                    f"sync paused: the server refuses this terminal's token ({agent.auth_failed}); "
                    f"rows kept: {store.counts()}"
                )
                store.close()
                sys.exit(3)
            self.stdout.write(f"sync {'complete' if drained else 'incomplete'}: {store.counts()}")
            store.close()
            return

        kiosk = None
        if not opts["no_kiosk"]:
            kiosk = KioskServer(kiosk_state, host=opts["kiosk_host"], port=opts["kiosk_port"])
            kiosk.start()
            self.stdout.write(f"kiosk {kiosk.url}", ending="\n")
            self.stdout.flush()
        agent.start_sync()
        gallery_size = len(agent.gallery) if agent.gallery is not None else 0
        self.stdout.write(f"terminal {agent.config.code or '?'} ready; gallery {gallery_size}; online={agent.online}")
        self.stdout.flush()
        try:
            if opts["source"]:
                for frame_ts, frame in frames(opts["source"], fps=opts["fps"] or None, repeat=opts["repeat"]):
                    if agent.stopping:
                        break
                    shown = agent.handle_frame(frame_ts, frame)
                    if shown:
                        self.stdout.write(f"frame: {shown}")
                        self.stdout.flush()
            if opts["once"]:
                agent.drain(timeout=60)
                until = time.monotonic() + opts["linger"]
                while not agent.stopping and time.monotonic() < until:
                    time.sleep(0.2)
            else:
                while not agent.stopping:
                    time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            agent.stop()
            if kiosk is not None:
                kiosk.stop()
            if opts["stats_file"]:
                Path(opts["stats_file"]).write_text(json.dumps(agent.report()))
            self.stdout.write(f"queue: {store.counts()}")
            store.close()
