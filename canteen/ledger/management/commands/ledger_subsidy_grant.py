from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from canteen.core.errors import DomainError
from canteen.core.money import Money
from canteen.ledger.services import subsidy_grant_bulk
from canteen.org.models import District


class Command(BaseCommand):
    help = "发放营养改善计划每日补助 Grant the nutrition programme allowance for a school day (rerun-safe)."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="YYYY-MM-DD (default today)")
        parser.add_argument("--district", help="district code (default: every district)")
        parser.add_argument("--yuan", help="per student per day, e.g. 5.00 (default setting, ¥5)")

    def handle(self, *args, **opts):
        try:
            day = date.fromisoformat(opts["day"]) if opts["day"] else timezone.localdate()
            per = Money.from_yuan(opts["yuan"]) if opts["yuan"] else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        districts = District.objects.order_by("code")
        if opts["district"]:
            districts = districts.filter(code=opts["district"])
        if not districts.exists():
            raise CommandError("没有这个区 No such district")
        for district in districts:

            def bar(iterable, total, name=district.name):
                return tqdm(iterable, total=total, desc=f"{name} 营养补助 subsidy", unit="人")

            try:
                run = subsidy_grant_bulk(district=district, day=day, actor=None, per_student=per, progress=bar)
            except DomainError as exc:  # no school that day (schoolcalendar), or a year beyond its data
                raise CommandError(f"{district.name} {day}: {exc.message_zh} {exc.message_en}") from exc
            self.stdout.write(
                self.style.SUCCESS(
                    f"{district.name} {day}: {run.students} 人 students, 本次发放 granted {Money(run.granted_fen)}"
                )
            )
