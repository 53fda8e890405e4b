"""Demo data for account security: every demo login whose role needs a second factor gets a
confirmed TOTP device, and its key is printed with the demo logins. The demo stays usable: add
the key to any authenticator app, or print the current code with `canteen demo_totp <user>`
(only with DEBUG on, i.e. the demo). Production is unchanged: there each user sets up their own
device on first sign-in, and nobody prints codes."""

from __future__ import annotations

import base64

from django_otp.plugins.otp_totp.models import TOTPDevice

from canteen.org.models import User

from .policy import otp_required_for


def seed(ctx) -> None:
    usernames = {username for _role, username, _scope in ctx.logins}
    for user in User.objects.filter(username__in=usernames).order_by("username"):
        if not otp_required_for(user):
            continue
        device = TOTPDevice.objects.create(user=user, name="demo", confirmed=True)
        key = base64.b32encode(device.bin_key).decode().rstrip("=")
        ctx.logins.append(("两步验证密钥 TOTP key", user.username, key))
