"""No demo money in production: with canteen.settings.production the demo provider is not
registered, its pages are 404, and `check --deploy` fails (ledger.E001) when it is configured."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.errors import InvalidAmount
from canteen.ledger.payments import registry
from canteen.ledger.payments.checks import demo_provider_not_deployed
from canteen.org.choices import Role

ROOT = Path(__file__).resolve().parents[3]


def _production(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "canteen.settings.production",
        "CANTEEN_SECRET_KEY": "production-test-secret-" + "k" * 40,
        "CANTEEN_FACE_KEY": "ZGVtby1vbmx5LWZhY2Uta2V5LTMyLWJ5dGVzLWxvbmchIQ==",
        "CANTEEN_ALLOWED_HOSTS": "canteen.example.cn",
        "CANTEEN_DATABASE_URL": "sqlite:////tmp/i29-production-never-opened.sqlite3",
        **env,
    }
    environment.pop("CANTEEN_DEMO_PAYMENTS", None)
    return subprocess.run(  # noqa: S603
        [sys.executable, *code.split(" ")] if code.startswith("manage.py") else [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_fails_when_production_is_configured_with_the_demo_provider():
    bad = _production("manage.py check --deploy", CANTEEN_PAYMENT_PROVIDERS="wechat,demo")
    assert bad.returncode != 0
    assert "ledger.E001" in bad.stderr
    assert "demo payment provider is configured" in bad.stderr
    good = _production("manage.py check --deploy", CANTEEN_PAYMENT_PROVIDERS="wechat,alipay")
    assert "ledger.E001" not in good.stderr + good.stdout


PROBE = """
import django; django.setup()
from django.test import Client
from canteen.ledger.payments import registry
print("registered", registry.registered())
c = Client(HTTP_HOST="canteen.example.cn")
print("pay", c.get("/ledger/pay/demo/CT2026120800000000AAAA/", secure=True).status_code)
print("pay_post", c.post("/ledger/pay/demo/CT2026120800000000AAAA/", secure=True).status_code)
print("settlement", c.get("/ledger/finance/demo-settlement.csv", secure=True).status_code)
"""


def test_production_does_not_register_the_demo_provider_even_when_named():
    result = _production(PROBE, CANTEEN_PAYMENT_PROVIDERS="demo,wechat")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines["registered"] == "['wechat']"
    assert lines["pay"] == "404"
    assert lines["pay_post"] == "404"
    assert lines["settlement"] == "404"


@pytest.mark.django_db
def test_where_the_demo_is_refused_no_demo_order_or_notification_is_accepted(world, client):
    guardian = world.user(Role.GUARDIAN)
    with override_settings(CANTEEN_DEMO_PAYMENTS=False, CANTEEN_PAYMENT_PROVIDERS=["demo"]):
        assert registry.registered() == []
        with pytest.raises(InvalidAmount):
            services.topup_order_create(student=world.students[0], amount=Money(100), actor=guardian)
        with pytest.raises(InvalidAmount):
            services.provider_notification_handle(provider="demo", body={"out_trade_no": "x"}, signature="")
        client.force_login(guardian)
        assert client.get("/ledger/pay/demo/CTX/").status_code == 404
        page = client.post(f"/ledger/guardian/{world.students[0].pk}/top-up/", {"amount": "10"}, follow=True)
        assert "暂未开通在线充值" in page.content.decode() or "not available" in page.content.decode()
        assert demo_provider_not_deployed()[0].id == "ledger.E001"  # CANTEEN_PAYMENT_PROVIDERS names it


@pytest.mark.django_db
def test_the_demo_labels_itself_on_every_page_it_shows(world, client):
    guardian = world.user(Role.GUARDIAN)
    client.force_login(guardian)
    child = world.students[0]
    form = client.get(f"/ledger/guardian/{child.pk}/top-up/").content.decode()
    assert "演示支付" in form
    pay_url = client.post(f"/ledger/guardian/{child.pk}/top-up/", {"amount": "5"})["Location"]
    assert 'data-testid="demo-label"' in client.get(pay_url).content.decode()
    client.force_login(world.user(Role.DISTRICT_REGULATOR))
    assert "演示支付" in client.get("/ledger/finance/reconcile/").content.decode()
