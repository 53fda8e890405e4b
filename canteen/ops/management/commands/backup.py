"""`canteen backup`: a backup of the default database (pg_dump -Fc, or SQLite's online backup)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from canteen.ops.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "备份数据库 Back the database up (PostgreSQL: pg_dump -Fc; SQLite: online backup), with retention."

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, help="backup directory (default CANTEEN_BACKUP_DIR)")
        parser.add_argument("--keep", type=int, help="how many backups to keep (default CANTEEN_BACKUP_KEEP)")
        parser.add_argument("--copy-to", type=Path, help="second location (default CANTEEN_BACKUP_COPY_DIR)")

    def handle(self, *args, dir=None, keep=None, copy_to=None, **options):
        try:
            backup = backup_create(directory=dir, keep=keep, copy_to=copy_to)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(backup.manifest["tables"].values())
        self.stdout.write(f"backup: {backup.path} ({backup.manifest['bytes']} bytes, {rows} rows)")
        for copy in backup.copies:
            self.stdout.write(f"copy: {copy}")
        for old in backup.removed:
            self.stdout.write(f"removed (retention): {old}")
