"""Recompute the supervision rollups from source facts; report differences, --apply to repair."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from canteen.supervision.rebuild import rollups_rebuild
from canteen.supervision.services import campus_dim_refresh


class Command(BaseCommand):
    help = "Compare the rollup tables with a recount from source facts (meal records, stored events, feedback)."

    def add_arguments(self, parser):
        parser.add_argument("--start", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
        parser.add_argument("--end", type=date.fromisoformat, help="last day (YYYY-MM-DD)")
        parser.add_argument("--apply", action="store_true", help="rewrite the rows that differ")
        parser.add_argument("--meals-from", choices=["records", "events"], help="source of meal counts")
        parser.add_argument(
            "--records-only",
            action="store_true",
            help="recount only meals and deliveries from their records (no event replay)",
        )
        parser.add_argument("--show", type=int, default=30, help="differences to print")

    def handle(self, *args, start=None, end=None, apply=False, meals_from=None, records_only=False, show=30, **options):
        dims = campus_dim_refresh()
        report = rollups_rebuild(start=start, end=end, apply=apply, meals_from=meals_from, records_only=records_only)
        self.stdout.write(
            f"campuses={dims} rows compared={report.rows_compared} events replayed={report.events_replayed} "
            f"meals from={report.meals_from} deliveries from={report.deliveries_from} differences={len(report.differences)}"
        )
        for diff in report.differences[:show]:
            self.stdout.write(f"  {diff}")
        if len(report.differences) > show:
            self.stdout.write(f"  … {len(report.differences) - show} more")
        if report.applied:
            self.stdout.write(self.style.SUCCESS("repaired"))
        elif report.ok:
            self.stdout.write(self.style.SUCCESS("rollups match the source facts"))
        elif not apply:
            raise CommandError("rollups differ from the source facts (run with --apply to repair)")
