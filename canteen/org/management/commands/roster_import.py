"""Import a roster file from the command line, with the same checks as the page.

    canteen roster_import FILE --actor USERNAME (--school CODE | --district CODE) [--dry-run]

The file is checked first; with any error the rows are listed and nothing is written."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from canteen.core.errors import DomainError
from canteen.org import roster
from canteen.org.models import District, RosterImportStatus, School, User


class Command(BaseCommand):
    help = "导入学生名册 Import a pupil roster (.xlsx or .csv)"

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--actor", required=True, help="username of the school admin or district regulator")
        parser.add_argument("--school", help="school code")
        parser.add_argument("--district", help="district code (a whole-district import)")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")

    def handle(self, *args, file: str, actor: str, school: str | None, district: str | None, dry_run: bool, **opts):
        from tqdm import tqdm

        user = User.objects.filter(username=actor, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {actor}")
        school_obj = School.objects.filter(code=school).first() if school else None
        district_obj = District.objects.filter(code=district).first() if district else None
        if school and school_obj is None or district and district_obj is None or not (school or district):
            raise CommandError("give an existing --school or --district code")
        path = Path(file)
        try:
            record = roster.roster_preview(
                actor=user, data=path.read_bytes(), filename=path.name, school=school_obj, district=district_obj
            )
        except DomainError as exc:
            raise CommandError(f"{exc.message_zh} / {exc.message_en}") from None
        for message in record.report.get("file_errors", []):
            self.stderr.write(f"{message['zh']} / {message['en']}")
        for row in record.report.get("rows", []):
            for kind in ("errors", "warnings"):
                for m in row[kind]:
                    self.stderr.write(f"row {row['row']} {row['student_number']} {kind[:-1]}: {m['zh']} / {m['en']}")
        if record.status != RosterImportStatus.PREVIEWED:
            raise CommandError(f"{record.error_count} error(s): nothing imported")
        with tqdm(total=record.rows_total, unit="row", desc="dry run" if dry_run else "import") as bar:

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            record = roster.roster_confirm(actor=user, roster_import=record, dry_run=dry_run, progress=progress)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(record.counts.items())))
