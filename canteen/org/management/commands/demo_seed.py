import importlib
import time

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from canteen.org.demo import DEMO_PASSWORD, seed_organisation
from canteen.org.models import District


class Command(BaseCommand):
    help = "生成演示区（荆州区，30 所学校，51 个校区）Generate the demo district; --districts N for a city."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2024, help="random seed (same seed, same data)")
        parser.add_argument("--districts", type=int, default=1, help="1 = Jingzhou District; 20 = a city")
        parser.add_argument("--schools", type=int, default=30)
        parser.add_argument("--campuses", type=int, default=51)
        parser.add_argument("--students-per-campus", type=int, default=80)
        parser.add_argument("--only-org", action="store_true", help="skip the other domains' demo data")

    def handle(self, *args, **opts):
        if District.objects.exists():
            raise CommandError("数据库中已有数据；请使用新数据库 The database already has data; use a fresh one.")
        if not 1 <= opts["districts"] <= 50 or opts["campuses"] < opts["schools"] or opts["schools"] < 1:
            raise CommandError("参数不合理 Unreasonable sizes: 1–50 districts, campuses ≥ schools ≥ 1")
        started = time.monotonic()
        ctx = seed_organisation(
            seed=opts["seed"],
            districts=opts["districts"],
            schools=opts["schools"],
            campuses=opts["campuses"],
            students_per_campus=opts["students_per_campus"],
        )
        if not opts["only_org"]:
            for config in apps.get_app_configs():
                if not config.name.startswith("canteen.") or config.label == "org":
                    continue
                try:
                    module = importlib.import_module(f"{config.name}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{config.name}.demo":
                        raise
                    continue
                self.stdout.write(f"→ {config.verbose_name}")
                module.seed(ctx)
        self.stdout.write(
            self.style.SUCCESS(
                f"完成 Done in {time.monotonic() - started:.1f}s: {len(ctx.districts)} 区 districts, "
                f"{len(ctx.campuses)} 校区 campuses"
            )
        )
        self.stdout.write(f"\n演示账号 Demo logins (密码 password: {DEMO_PASSWORD})")
        for role, username, scope in ctx.logins:
            self.stdout.write(f"  {username:<12} {role:<32} {scope}")
