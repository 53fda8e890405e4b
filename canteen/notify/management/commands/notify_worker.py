import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections


class Command(BaseCommand):
    help = "通知投递 Notification dispatcher: reads the outbox and sends due deliveries in a tight loop."

    def add_arguments(self, parser):
        parser.add_argument("--tick", type=float, default=0.2, help="seconds to wait when there is nothing to do")
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args, **opts):
        # `canteen worker` runs the same work every second (notify.dispatch); this process is for
        # a district that wants its messages out in well under a second, and for bench/notify.py.
        from canteen.notify.services import deliveries_send, outbox_consume

        stopping: list[bool] = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stdout.write("notify_worker: started")
        while not stopping:
            close_old_connections()
            ran = outbox_consume(limit=opts["batch"] * 4)
            counts = deliveries_send(limit=opts["batch"])
            if not ran and not sum(counts.values()):
                time.sleep(opts["tick"])
