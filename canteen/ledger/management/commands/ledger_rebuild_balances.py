from django.core.management.base import BaseCommand

from canteen.core.money import Money
from canteen.ledger.services import balances_rebuild


class Command(BaseCommand):
    help = "核对缓存余额与分录之和 Compare every cached balance with the sum of its entries; --fix sets them right."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="rewrite differing balances (audited)")

    def handle(self, *args, **opts):
        differences = balances_rebuild(fix=opts["fix"])
        for d in differences:
            self.stdout.write(
                f"{d.code}: 缓存 cached {Money(d.cached_fen)} ≠ 分录 entries {Money(d.entries_fen)} "
                f"(差 diff {Money(d.cached_fen - d.entries_fen)})"
            )
        verb = "已修正 fixed" if opts["fix"] else "发现 found"
        style = self.style.SUCCESS if not differences else self.style.WARNING
        self.stdout.write(style(f"{verb} {len(differences)} 处差异 differences"))
        if differences and not opts["fix"]:
            raise SystemExit(1)
