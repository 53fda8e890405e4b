from django.core.management.base import BaseCommand

from canteen.core.idempotency import purge_expired


class Command(BaseCommand):
    help = "删除过期的幂等记录 Delete expired idempotency records (kept at least IDEMPOTENCY_TTL_HOURS)."

    def handle(self, *args, **options):
        self.stdout.write(f"deleted {purge_expired()} expired idempotency records")
