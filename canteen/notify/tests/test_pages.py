"""The pages: the unread badge on every page, the inbox, one's settings, the dead-letter list
(staff retry), and the selector behind the role home pages."""

from __future__ import annotations

import pytest

from canteen.notify import recipients, services
from canteen.notify.choices import Channel, DeliveryStatus, Kind
from canteen.notify.models import Delivery, Message, Preference
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def _notice(world, key="k1"):
    return services.notice_send(
        kind=Kind.CASE_ASSIGNED,
        recipients=[recipients.of_user(world.user(Role.SCHOOL_ADMIN))],
        context={"case_number": "AJ-1", "title": "地面积水", "deadline": "12-09 10:00"},
        dedupe_key=key,
        link="/supervision/cases/",
        org={"district": world.districts[0].pk, "school": world.schools[0].pk},
    )


def test_unread_badge_on_every_page_and_the_inbox_marks_read(world, client):
    _notice(world, "a")
    _notice(world, "b")
    client.force_login(world.user(Role.SCHOOL_ADMIN))
    home = client.get("/").content.decode()
    assert 'data-testid="inbox-badge"' in home
    assert '<span class="badge">2</span>' in home
    inbox = client.get("/notify/").content.decode()
    assert "AJ-1" in inbox
    assert "地面积水" in inbox
    client.post("/notify/read/")
    assert Message.objects.filter(read_at__isnull=True).count() == 0
    assert '<span class="badge">' not in client.get("/notify/preferences/").content.decode()
    # Another user sees none of them.
    client.force_login(world.user(Role.CANTEEN_MANAGER))
    assert "AJ-1" not in client.get("/notify/").content.decode()


def test_guardian_sets_channels_quiet_hours_and_the_meal_opt_in(world, client):
    client.force_login(world.user(Role.GUARDIAN))
    response = client.post(
        "/notify/preferences/",
        {"quiet_start": "21:30", "quiet_end": "07:00", "meal_charged": "on", f"ch-{Kind.LOW_BALANCE}": ["sms"]},
    )
    assert response.status_code == 302
    guardian = world.students[0].guardian_links.get().guardian
    pref = Preference.objects.get(recipient_key=f"guardian:{guardian.pk}")
    assert pref.meal_charged
    assert str(pref.quiet_start) == "21:30:00"
    assert pref.channels[Kind.LOW_BALANCE] == ["sms"]
    assert pref.channels[Kind.RECALL] == []
    bad = client.post("/notify/preferences/", {"quiet_start": "21:30"})
    assert bad.status_code == 200  # a start without an end is refused with a message


def test_dead_letter_page_lists_and_retries_in_scope(world, client):
    (message,) = _notice(world)
    Delivery.objects.filter(message=message).update(status=DeliveryStatus.DEAD, last_error="http 503", attempts=6)
    Delivery.objects.create(
        message=message, dedupe_key="other", recipient_key="x", channel=Channel.SMS, status=DeliveryStatus.DEAD
    )  # no org scope: nobody's list
    client.force_login(world.user(Role.SCHOOL_ADMIN))
    page = client.get("/notify/dead-letters/").content.decode()
    assert "http 503" in page
    assert page.count('name="id"') == 1
    ids = list(Delivery.objects.filter(message=message, recipient_key__startswith="user").values_list("id", flat=True))
    client.post("/notify/dead-letters/retry/", {"id": ids})
    assert set(Delivery.objects.filter(pk__in=ids).values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    client.force_login(world.user(Role.GUARDIAN))
    assert client.get("/notify/dead-letters/").status_code == 403


def test_todo_for_lists_what_needs_the_school_now(world):
    from django.db import transaction
    from django.utils import timezone

    from canteen.notify.selectors import todo_for
    from canteen.supervision.choices import CaseSource
    from canteen.supervision.services import case_assign, case_open

    with transaction.atomic():
        case, _ = case_open(
            actor=None,
            source=CaseSource.MANUAL,
            title="留样不足",
            district_id=world.districts[0].pk,
            campus_id=world.campuses[0].pk,
        )
    case_assign(
        case=case, actor=world.user(Role.DISTRICT_REGULATOR), deadline=timezone.now() + timezone.timedelta(hours=5)
    )
    _notice(world)
    items = todo_for(world.user(Role.SCHOOL_ADMIN))
    assert items[0]["kind"] == "case"
    assert items[0]["urgent"]
    assert "留样不足" in items[0]["text"]
    assert any(i["kind"] == "inbox" for i in items)
    district = todo_for(world.user(Role.DISTRICT_REGULATOR))
    assert not any(i["kind"] == "escalated" for i in district)  # not overdue yet
    assert todo_for(world.user(Role.GUARDIAN)) == []


def test_wechat_pushes_the_delivery_receipt_signed_with_the_token(world, client, settings):
    import hashlib

    settings.CANTEEN_NOTIFY_WECHAT_TOKEN = "tok"
    (message,) = _notice(world)
    d = Delivery.objects.create(
        message=message,
        dedupe_key="r",
        recipient_key="g",
        channel=Channel.WECHAT,
        status=DeliveryStatus.SENT,
        provider_ref="200163836",
    )
    sig = hashlib.sha1("".join(sorted(["tok", "1700000000", "n1"])).encode()).hexdigest()  # noqa: S324
    query = f"signature={sig}&timestamp=1700000000&nonce=n1"
    assert client.get(f"/notify/wechat/callback/?{query}&echostr=abc").content == b"abc"
    assert client.get("/notify/wechat/callback/?signature=bad&timestamp=1&nonce=n1&echostr=abc").status_code == 403
    xml = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[openid]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID><Status><![CDATA[success]]></Status></xml>"
    )
    response = client.post(f"/notify/wechat/callback/?{query}", xml, content_type="text/xml")
    assert response.content == b"success"
    d.refresh_from_db()
    assert d.receipt_at is not None
    failed = xml.replace("success", "failed:user block")
    d2 = Delivery.objects.create(
        message=message,
        dedupe_key="r2",
        recipient_key="g",
        channel=Channel.WECHAT,
        status=DeliveryStatus.SENT,
        provider_ref="7",
    )
    client.post(f"/notify/wechat/callback/?{query}", failed.replace("200163836", "7"), content_type="text/xml")
    d2.refresh_from_db()
    assert d2.status == DeliveryStatus.FAILED
