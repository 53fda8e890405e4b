"""`canteen drill_check MANIFEST`: run by the restore drill with the restored database as default."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from canteen.ops.backup import drill_check


class Command(BaseCommand):
    help = "(internal) check a restored database against its backup's manifest; prints JSON."

    def add_arguments(self, parser):
        parser.add_argument("manifest", type=Path)

    def handle(self, *args, manifest: Path, **options):
        self.stdout.write(json.dumps(drill_check(json.loads(manifest.read_text()))))
