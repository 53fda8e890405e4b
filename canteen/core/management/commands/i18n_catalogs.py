from django.core.management.base import BaseCommand, CommandError

from canteen.core import catalogs


class Command(BaseCommand):
    help = "从代码生成 gettext 目录 Generate the zh_Hans and en gettext catalogs from the code's bilingual texts."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="fail if the catalogs are not current")

    def handle(self, *args, **opts):
        if opts["check"]:
            stale = catalogs.stale()
            if stale:
                raise CommandError(
                    f"目录需要更新 Catalogs out of date: {', '.join(stale)}; run manage.py i18n_catalogs"
                )
            self.stdout.write("catalogs are current")
            return
        for path in catalogs.write():
            self.stdout.write(f"wrote {path}")
