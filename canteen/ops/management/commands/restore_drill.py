"""`canteen restore_drill`: restore the newest backup into a scratch database and check it."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from canteen.ops.backup import BackupError, restore_drill


class Command(BaseCommand):
    help = "恢复演练 Restore drill: the newest backup into a scratch database, then row counts and ledger checks."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", type=Path, help="backup file (default: the newest)")
        parser.add_argument("--keep-scratch", action="store_true", help="leave the scratch database for a look")

    def handle(self, *args, path=None, keep_scratch=False, **options):
        try:
            report = restore_drill(path=path, keep_scratch=keep_scratch)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"drill: {report.backup} → {report.scratch}: {report.tables} tables, {report.rows} rows")
        self.stdout.write(f"  ledger balance differences: {report.balance_differences}")
        for table, (want, got) in report.count_mismatches.items():
            self.stdout.write(f"  row count differs: {table}: backup {want}, restored {got}")
        for pk in report.missing_postings:
            self.stdout.write(f"  missing posting: {pk}")
        for problem in report.problems:
            self.stdout.write(f"  {problem}")
        if not report.ok:
            raise CommandError("恢复演练失败 restore drill FAILED")
        self.stdout.write("恢复演练通过 restore drill passed")
