from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from canteen.core.errors import DomainError
from canteen.ledger.services import period_close
from canteen.org.models import Campus


class Command(BaseCommand):
    help = "日结/月结 Close the books of every campus through a day (default yesterday) or a month (--month YYYY-MM)."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="YYYY-MM-DD, default yesterday")
        parser.add_argument("--month", help="YYYY-MM: close that month")

    def handle(self, *args, **opts):
        period = "day"
        try:
            if opts["month"]:
                year, month = (int(x) for x in opts["month"].split("-"))
                first_next = date(year + (month == 12), month % 12 + 1, 1)
                through, period = first_next - timedelta(days=1), "month"
            else:
                through = date.fromisoformat(opts["day"]) if opts["day"] else timezone.localdate() - timedelta(days=1)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        done = skipped = 0
        for campus in Campus.objects.order_by("code"):
            try:
                period_close(campus=campus, through=through, actor=None, period=period)
                done += 1
            except DomainError as exc:
                skipped += 1
                self.stdout.write(f"{campus.code}: {exc.message_zh} {exc.message_en}")
        self.stdout.write(self.style.SUCCESS(f"{period} {through}: 结账 closed {done}, 跳过 skipped {skipped}"))
