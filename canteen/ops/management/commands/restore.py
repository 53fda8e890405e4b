"""`canteen restore FILE`: replace a database with a backup. Stop web, worker and streams first."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from canteen.ops.backup import BackupError, backup_restore, latest_backup


class Command(BaseCommand):
    help = "恢复数据库 Restore a backup into the configured database (or --database NAME)."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", type=Path, help="backup file (default: the newest)")
        parser.add_argument("--database", help="restore into this database (PostgreSQL name or SQLite path)")
        parser.add_argument("--yes", action="store_true", help="confirm replacing the configured database")

    def handle(self, *args, path=None, database=None, yes=False, **options):
        configured = str(settings.DATABASES["default"]["NAME"])
        if (database is None or database == configured) and not yes:
            raise CommandError(f"this replaces the database {configured}: stop the services, then run again with --yes")
        try:
            path = path or latest_backup()
            target = backup_restore(path=path, database=database)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored {path} into {target}")
