"""Rotate the face-template key: `canteen identity_rekey` re-seals every template and kept photo
from the old key to the one now configured (CANTEEN_FACE_KEY).

The old key is read from an environment variable (default CANTEEN_FACE_KEY_OLD), never from the
command line, where it would land in shell history and the process list."""

import os

from django.core.management.base import BaseCommand, CommandError

from canteen.identity.services import face_data_rekey


class Command(BaseCommand):
    help = "用新密钥重新加密人脸模板 Re-seal face templates and kept photos under the configured key"

    def add_arguments(self, parser):
        parser.add_argument("--old-key-env", default="CANTEEN_FACE_KEY_OLD", help="variable holding the old key")

    def handle(self, *args, **opts):
        old = os.environ.get(opts["old_key_env"], "")
        if not old:
            raise CommandError(f"set {opts['old_key_env']} to the previous base64 key")
        counts = face_data_rekey(old_key_b64=old)
        self.stdout.write(
            f"re-sealed {counts['templates']} template(s), {counts['photos']} photo(s); "
            f"{counts['already']} already under the new key; {counts['failed']} failed"
        )
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} row(s) open under neither key; see the audit log")
