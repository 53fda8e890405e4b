"""The demo keeps its logins usable with a second factor: devices with printed keys, and the
current code from `canteen demo_totp` only in the demo (DEBUG)."""

import random
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from canteen.accounts import demo, services
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def test_demo_logins_that_need_a_second_factor_get_a_device_and_a_printed_key(world, settings, capsys):
    settings.CANTEEN_OTP_REQUIRED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    district, guardian = world.user(Role.DISTRICT_REGULATOR), world.user(Role.GUARDIAN)
    ctx = SimpleNamespace(logins=[("区", district.username, ""), ("家长", guardian.username, "")], rng=random.Random(1))
    demo.seed(ctx)
    assert services.totp_device_of(district) is not None
    assert services.totp_device_of(guardian) is None
    assert [row[1] for row in ctx.logins if "TOTP" in row[0]] == [district.username]

    settings.DEBUG = True
    call_command("demo_totp", district.username)
    code = capsys.readouterr().out.strip()
    assert services.totp_verify(user=district, token=code) is not None

    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_totp", district.username)
