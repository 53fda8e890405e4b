"""Each channel against a local server that speaks its protocol; a provider down (retried, then
dead-lettered, nothing lost, sent again by staff), a duplicate event (one message), quiet hours
(held, then sent), a channel without credentials (off, and says so)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from canteen.core.events import publish
from canteen.notify import recipients, services
from canteen.notify.choices import Channel, DeliveryStatus, Kind
from canteen.notify.models import Delivery, Message
from canteen.org.choices import Role

from .conftest import drain

pytestmark = pytest.mark.django_db(transaction=False)


def _guardian(world):
    student = world.students[0]
    return student, student.guardian_links.get().guardian


def test_topup_reaches_guardian_on_wechat_and_sms_with_valid_signature(world, providers):
    student, guardian = _guardian(world)
    services.address_bind(channel=Channel.WECHAT, address="openid-parent-1", guardian=guardian)
    from django.db import transaction

    with transaction.atomic():
        publish(
            "ledger.topup_credited",
            {
                "order_id": "o-1",
                "wallet_id": "w",
                "student_id": str(student.pk),
                "campus_id": str(student.campus_id),
                "amount_fen": 10000,
                "balance_fen": 12345,
                "channel": "wechat_pay",
            },
        )
    counts = drain()
    assert counts["sent"] == 1  # WeChat only: the top-up's default for guardians
    sent = providers.state.wechat[0]
    assert sent["touser"] == "openid-parent-1"
    assert sent["template_id"] == "tmpl-general"
    assert "¥100.00" in sent["data"]["keyword1"]["value"]
    assert "¥123.45" in sent["data"]["keyword1"]["value"]
    assert providers.state.token_requests == 1
    message = Message.objects.get(kind=Kind.TOPUP_CREDITED)
    assert message.user == world.user(Role.GUARDIAN)  # the guardian's account sees it in the inbox
    delivery = message.deliveries.get()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.provider_ref


def test_the_openid_bound_by_wechat_web_authorization_receives_the_message(world, providers, settings):
    """A guardian who signed in through the Official Account's web authorization (ledger.payments
    binding) is reached at that openid, with no address entered by hand."""
    from django.db import transaction

    from canteen.ledger.payments.models import GuardianWeChatBinding

    student, guardian = _guardian(world)
    GuardianWeChatBinding.objects.create(
        user=guardian.user, app_id=settings.CANTEEN_NOTIFY_WECHAT_APPID, openid="openid-from-oauth"
    )
    GuardianWeChatBinding.objects.create(user=guardian.user, app_id="wx-another-account", openid="not-ours")
    with transaction.atomic():
        publish(
            "ledger.topup_credited",
            {
                "order_id": "o-2",
                "wallet_id": "w",
                "student_id": str(student.pk),
                "campus_id": str(student.campus_id),
                "amount_fen": 500,
                "balance_fen": 900,
                "channel": "wechat_pay",
            },
        )
    assert drain()["sent"] == 1
    assert [m["touser"] for m in providers.state.wechat] == ["openid-from-oauth"]


def test_low_balance_goes_by_sms_signed_as_alibaba_cloud_checks(world, providers):
    student, guardian = _guardian(world)
    from django.db import transaction

    with transaction.atomic():
        publish(
            "ledger.low_balance",
            {
                "account_id": "a",
                "student_id": str(student.pk),
                "balance_fen": 800,
                "alert_fen": 1000,
                "posting_id": "p1",
            },
        )
    drain()
    # No openid bound: WeChat is skipped with its reason, SMS goes to the guardian's phone.
    wechat = Delivery.objects.get(channel=Channel.WECHAT)
    assert wechat.status == DeliveryStatus.SKIPPED
    assert "no address" in wechat.last_error
    sms = providers.state.sms[0]
    assert sms["PhoneNumbers"] == guardian.phone
    assert sms["SignName"] == "数字食堂"
    assert sms["TemplateCode"] == "SMS_000001"
    import json

    params = json.loads(sms["TemplateParam"])
    assert params["balance"] == "¥8.00"
    assert params["threshold"] == "¥10.00"
    assert "_student_id" not in params  # internal ids never go to the provider
    assert Delivery.objects.get(channel=Channel.SMS).provider_ref.startswith("biz-")


def test_sms_with_a_wrong_secret_is_refused_by_the_signature_check(world, providers, settings):
    settings.CANTEEN_NOTIFY_SMS_ACCESS_KEY_SECRET = "not-the-secret"
    services.notice_send(
        kind=Kind.VERIFICATION_CODE,
        recipients=[recipients.of_mobile("13900000001")],
        context={"code": "123456", "minutes": 5},
        dedupe_key="code:t1",
    )
    drain()
    d = Delivery.objects.get()
    assert d.status == DeliveryStatus.FAILED
    assert d.last_error == "sms_SignatureDoesNotMatch"
    assert providers.state.sms == []


def test_staff_get_email_over_smtp_and_the_campus_wecom_group(world, providers):
    manager = world.user(Role.CANTEEN_MANAGER)
    manager.email = "manager@school.test"
    manager.save()
    services.address_bind(channel=Channel.WECOM, address="robot-key-1", campus=world.campuses[0])
    services.notice_send(
        kind=Kind.RECORD_MISSING,
        recipients=recipients.school_and_campus(campus_id=world.campuses[0].pk),
        context={"campus": "一校区", "day": "2026-12-08", "meal": "午餐", "record": "留样", "record_en": "food sample"},
        dedupe_key="missing:x",
        link="/kitchen/records/",
    )
    drain()
    assert [m["to"] for m in providers.smtp.messages] == [["manager@school.test"]]
    assert "留样" in providers.smtp.messages[0]["data"] or "=E7=95=99" in providers.smtp.messages[0]["data"]
    assert len(providers.state.wecom) == 1
    assert providers.state.wecom[0]["msgtype"] == "markdown"
    assert "食安记录缺失" in providers.state.wecom[0]["markdown"]["content"]
    # The school admin has no e-mail address: skipped with the reason, not failed.
    admin_mail = Delivery.objects.get(recipient_key=f"user:{world.user(Role.SCHOOL_ADMIN).pk}", channel=Channel.EMAIL)
    assert admin_mail.status == DeliveryStatus.SKIPPED


def test_wechat_token_expired_is_refreshed_and_the_message_sent_once(world, providers):
    _student, guardian = _guardian(world)
    services.address_bind(channel=Channel.WECHAT, address="openid-2", guardian=guardian)
    for n in range(2):
        services.notice_send(
            kind=Kind.DAILY_LIMIT,
            recipients=[recipients.of_guardian(guardian)],
            context={"student": "学*1", "limit": "¥30.00"},
            dedupe_key=f"limit:{n}",
        )
        if n == 0:
            drain()
            providers.state.expire_token_once = True
    drain()
    assert len(providers.state.wechat) == 2
    assert providers.state.token_requests == 2  # cached once, refreshed once after 42001
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_provider_down_retries_with_backoff_then_dead_letters_then_staff_send_again(world, providers, settings):
    settings.CANTEEN_NOTIFY_MAX_ATTEMPTS = 3
    services.address_bind(channel=Channel.WECOM, address="robot-key-1", campus=world.campuses[0])
    providers.state.down = True
    services.notice_send(
        kind=Kind.KITCHEN_ALARM,
        recipients=recipients.groups(campus_id=world.campuses[0].pk),
        context={"campus": "一校区", "alarm": "鼠患", "at": "12-08 10:00"},
        dedupe_key="alarm:down",
        org={"campus": world.campuses[0].pk, "school": world.campuses[0].school_id},
    )
    now = timezone.now()
    drain(now)
    d = Delivery.objects.get()
    assert d.status == DeliveryStatus.RETRY
    assert d.attempts == 1
    assert "503" in d.last_error
    first_wait = d.next_attempt_at - now
    assert timedelta(seconds=20) < first_wait < timedelta(seconds=40)
    assert drain(now)["sent"] == 0  # not due yet: nothing is hammered
    now = d.next_attempt_at + timedelta(seconds=1)
    drain(now)
    d.refresh_from_db()
    assert d.status == DeliveryStatus.RETRY
    assert d.attempts == 2
    assert d.next_attempt_at - now > first_wait  # backoff grows
    drain(d.next_attempt_at + timedelta(seconds=1))
    d.refresh_from_db()
    assert d.status == DeliveryStatus.DEAD
    assert d.attempts == 3
    assert providers.state.wecom == []
    # On the dead-letter list of the campus's manager; sent again once the provider is back.
    from canteen.notify.selectors import dead_letters

    manager = world.user(Role.CANTEEN_MANAGER)
    assert list(dead_letters(actor=manager)) == [d]
    providers.state.down = False
    assert services.delivery_retry(actor=manager, deliveries=[d.pk]) == 1
    drain()
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SENT
    assert len(providers.state.wecom) == 1


def test_smtp_server_down_is_a_retry_not_a_loss(world, providers):
    manager = world.user(Role.CANTEEN_MANAGER)
    manager.email = "m@school.test"
    manager.save()
    providers.smtp.stop()
    services.notice_send(
        kind=Kind.CASE_ASSIGNED,
        recipients=[recipients.of_user(manager)],
        context={"case_number": "AJ1", "title": "t", "deadline": "12-09 10:00"},
        dedupe_key="case:x",
    )
    drain()
    d = Delivery.objects.get(channel=Channel.EMAIL)
    assert d.status == DeliveryStatus.RETRY
    assert d.last_error.startswith("network")
    providers.smtp.start()
    drain(d.next_attempt_at + timedelta(seconds=1))
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SENT
    assert len(providers.smtp.messages) == 1


def test_a_duplicate_event_makes_one_message(world, providers):
    student, guardian = _guardian(world)
    services.address_bind(channel=Channel.WECHAT, address="openid-3", guardian=guardian)
    from django.db import transaction

    payload = {"refund_id": "r-9", "order_id": "o", "student_id": str(student.pk), "campus_id": "", "amount_fen": 500}
    with transaction.atomic():
        publish("ledger.refund_succeeded", payload)
        publish("ledger.refund_succeeded", payload)  # the provider's callback came twice
    drain()
    services.outbox_consume()  # and the worker read again
    drain()
    assert Message.objects.filter(kind=Kind.REFUND_SUCCEEDED).count() == 1
    assert len(providers.state.wechat) == 1
    assert len(providers.state.sms) == 1


def test_quiet_hours_hold_then_send(world, providers):
    _student, guardian = _guardian(world)
    services.address_bind(channel=Channel.WECHAT, address="openid-4", guardian=guardian)
    services.preference_set(actor=world.user(Role.GUARDIAN), quiet_start=time(21, 0), quiet_end=time(7, 0))
    night = timezone.make_aware(timezone.datetime(2026, 12, 8, 22, 30))
    services.notice_send(
        kind=Kind.TOPUP_CREDITED,
        recipients=[recipients.of_guardian(guardian)],
        context={"student": "学*1", "amount": "¥1.00", "balance": "¥2.00"},
        dedupe_key="topup:q",
        now=night,
    )
    d = Delivery.objects.get()
    assert d.status == DeliveryStatus.HELD
    assert timezone.localtime(d.next_attempt_at).hour == 7
    drain(night + timedelta(hours=1))
    assert providers.state.wechat == []
    drain(d.next_attempt_at + timedelta(seconds=1))
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SENT
    assert len(providers.state.wechat) == 1
    # An urgent food-safety notice is not held.
    services.notice_send(
        kind=Kind.RECALL,
        recipients=[recipients.of_guardian(guardian)],
        context={"reason": "r", "batches": 1},
        dedupe_key="recall:q",
        now=night,
    )
    assert set(Delivery.objects.filter(dedupe_key="recall:q").values_list("status", flat=True)) == {
        DeliveryStatus.PENDING
    }


def test_a_channel_without_credentials_is_off_and_says_so(world, client, settings):
    settings.CANTEEN_NOTIFY_WECHAT_APPID = ""
    settings.CANTEEN_NOTIFY_SMS_ACCESS_KEY_ID = ""
    settings.CANTEEN_NOTIFY_EMAIL_HOST = ""
    _student, guardian = _guardian(world)
    services.notice_send(
        kind=Kind.LOW_BALANCE,
        recipients=[recipients.of_guardian(guardian)],
        context={"balance": "¥1.00", "threshold": "¥5.00"},
        dedupe_key="low:off",
    )
    reasons = dict(Delivery.objects.values_list("channel", "last_error"))
    assert "CANTEEN_NOTIFY_WECHAT_APPID" in reasons[Channel.WECHAT]
    assert "CANTEEN_NOTIFY_SMS_ACCESS_KEY_ID" in reasons[Channel.SMS]
    assert Message.objects.count() == 1  # the inbox still has it
    client.force_login(world.user(Role.DISTRICT_REGULATOR))
    page = client.get("/notify/status/").content.decode()
    assert page.count("未启用") == 3  # WeChat, SMS, e-mail; WeCom and the inbox are on
