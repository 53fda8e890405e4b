import signal
import time

from django.core.management.base import BaseCommand

from canteen.core.worker import discover, run_due


class Command(BaseCommand):
    help = "后台任务 Background worker: runs the domains' periodic jobs."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and exit")
        parser.add_argument("--tick", type=float, default=1.0)

    def handle(self, *args, **opts):
        jobs = discover()
        self.stdout.write(f"worker: {len(jobs)} jobs: {', '.join(sorted(jobs)) or '—'}")
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        last: dict[str, str] = {}
        while not stopping:
            for name, result in run_due():
                # A job that runs every few seconds repeats itself; log only what changed.
                text = str(result)
                if last.get(name) != text or opts["once"]:
                    self.stdout.write(f"{name}: {text}")
                    last[name] = text
            if opts["once"]:
                break
            time.sleep(opts["tick"])
