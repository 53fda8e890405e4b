from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp

from canteen.accounts.services import totp_device_of
from canteen.org.models import User


class Command(BaseCommand):
    help = "演示用：显示某演示账号当前的两步验证码 Demo only: print a demo login's current TOTP code."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **opts):
        if not settings.DEBUG:
            raise CommandError("仅限演示环境（DEBUG）Only in the demo (DEBUG on)")
        user = User.objects.filter(username=opts["username"]).first()
        device = totp_device_of(user) if user else None
        if device is None:
            raise CommandError("该账号没有两步验证设备 No TOTP device for this login")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
        self.stdout.write(f"{code:0{device.digits}d}")
