"""Ledger fixtures."""

import pytest
from django.db import connection


@pytest.fixture(params=["db", "python"])
def ledger_path(request, settings):
    """Run a test on both meal-charge paths: the PostgreSQL function and the Python path that
    SQLite uses (forced on PostgreSQL by CANTEEN_LEDGER_DB_FUNCTIONS=False)."""
    if request.param == "db" and connection.vendor != "postgresql":
        pytest.skip("the ledger_meal_charge function exists on PostgreSQL only")
    settings.CANTEEN_LEDGER_DB_FUNCTIONS = request.param == "db"
    return request.param


def free_port(first: int = 22900, last: int = 22999) -> int:
    """A free port in this project's range for local provider servers."""
    import socket

    for port in range(first, last + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in range")


@pytest.fixture
def wechat_pay(world, settings, tmp_path):
    """A school with its own WeChat Pay merchant, the SDK pointed at a local v3 server."""
    from types import SimpleNamespace

    from canteen.ledger.payments import wechat
    from canteen.ledger.payments.merchants import write_credentials
    from canteen.ledger.payments.models import Merchant
    from canteen.ledger.payments.testing.wechat_server import WeChatPayServer

    server = WeChatPayServer(free_port()).start()
    settings.CANTEEN_WECHATPAY_BASE_URL = server.base_url
    settings.CANTEEN_PAYMENT_PROVIDERS = ["wechat"]
    settings.CANTEEN_PAYMENT_KEYS_DIR = str(tmp_path / "keys")
    write_credentials("school-0-wechat", server.merchant_credentials())
    school = world.students[0].campus.school
    merchant = Merchant.objects.create(
        provider="wechat",
        district=school.district,
        school=school,
        mch_id=server.mchid,
        app_id=server.appid,
        credentials_ref="school-0-wechat",
    )
    wechat.clear_clients()
    yield SimpleNamespace(server=server, merchant=merchant)
    server.stop()
    wechat.clear_clients()


@pytest.fixture
def alipay_pay(world, settings, tmp_path):
    """The same school with its own Alipay app, the SDK pointed at a local gateway."""
    from types import SimpleNamespace

    from canteen.ledger.payments import alipay
    from canteen.ledger.payments.merchants import write_credentials
    from canteen.ledger.payments.models import Merchant
    from canteen.ledger.payments.testing.alipay_server import AlipayGateway

    gateway = AlipayGateway(free_port()).start()
    settings.CANTEEN_ALIPAY_GATEWAY = gateway.gateway
    settings.CANTEEN_PAYMENT_PROVIDERS = [*getattr(settings, "CANTEEN_PAYMENT_PROVIDERS", []), "alipay"]
    settings.CANTEEN_PAYMENT_KEYS_DIR = str(tmp_path / "keys")
    write_credentials("school-0-alipay", gateway.merchant_credentials())
    school = world.students[0].campus.school
    merchant = Merchant.objects.create(
        provider="alipay",
        district=school.district,
        school=school,
        mch_id=gateway.app_id,
        credentials_ref="school-0-alipay",
    )
    alipay.clear_clients()
    yield SimpleNamespace(gateway=gateway, merchant=merchant)
    gateway.stop()
    alipay.clear_clients()
