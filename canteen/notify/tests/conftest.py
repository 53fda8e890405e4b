"""Local provider servers (ports 22010 HTTP, 22011 SMTP: issue 20's range) and settings that
point every channel at them."""

from __future__ import annotations

import pytest

from canteen.notify.testing import ProviderServer, SmtpSink

HTTP_PORT = 22010
SMTP_PORT = 22011


@pytest.fixture
def providers(settings):
    from django.core.cache import cache

    cache.clear()  # no access token from another test
    with ProviderServer(HTTP_PORT) as server:
        smtp = SmtpSink(SMTP_PORT).start()
        settings.CANTEEN_NOTIFY_WECOM_URL = server.url
        settings.CANTEEN_NOTIFY_WECHAT_URL = server.url
        settings.CANTEEN_NOTIFY_WECHAT_APPID = server.state.appid
        settings.CANTEEN_NOTIFY_WECHAT_SECRET = server.state.secret
        settings.CANTEEN_NOTIFY_WECHAT_TEMPLATE = "tmpl-general"
        settings.CANTEEN_NOTIFY_SMS_URL = server.url
        settings.CANTEEN_NOTIFY_SMS_ACCESS_KEY_ID = server.state.sms_key_id
        settings.CANTEEN_NOTIFY_SMS_ACCESS_KEY_SECRET = server.state.sms_key_secret
        settings.CANTEEN_NOTIFY_SMS_SIGN_NAME = "数字食堂"
        settings.CANTEEN_NOTIFY_SMS_TEMPLATE = "SMS_000001"
        settings.CANTEEN_NOTIFY_EMAIL_HOST = "127.0.0.1"
        settings.CANTEEN_NOTIFY_EMAIL_PORT = SMTP_PORT
        settings.CANTEEN_NOTIFY_EMAIL_FROM = "noreply@canteen.test"
        settings.CANTEEN_NOTIFY_HTTP_TIMEOUT = 2
        server.smtp = smtp
        try:
            yield server
        finally:
            smtp.stop()


def drain(now=None):
    """What the worker does each tick: read the outbox, send what is due."""
    from canteen.notify.services import deliveries_send, outbox_consume

    outbox_consume(now=now)
    return deliveries_send(now=now, threads=1)
