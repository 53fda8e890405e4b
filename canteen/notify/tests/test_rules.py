"""Each rule: a domain event (published here as its publisher will) becomes the right notice to
the right people, received by the local provider servers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from canteen.core.events import publish
from canteen.notify import services
from canteen.notify.choices import Channel, DeliveryStatus, Kind
from canteen.notify.models import Delivery, Message
from canteen.org.choices import Role

from .conftest import drain

pytestmark = pytest.mark.django_db


def _publish(topic, payload):
    with transaction.atomic():
        return publish(topic, payload)


def _bind_parent(world, openid="openid-p"):
    student = world.students[0]
    guardian = student.guardian_links.get().guardian
    services.address_bind(channel=Channel.WECHAT, address=openid, guardian=guardian)
    return student, guardian


def test_meal_charged_only_for_guardians_who_opted_in(world, providers):
    student, _guardian = _bind_parent(world)
    payload = {
        "posting_id": "p-1",
        "campus_id": str(student.campus_id),
        "school_id": str(student.campus.school_id),
        "district_id": str(student.campus.school.district_id),
        "amount_fen": 1200,
        "on": "2026-12-08",
        "student_id": str(student.pk),
    }
    _publish("ledger.meal_charged", payload)
    drain()
    assert Message.objects.count() == 0
    assert providers.state.wechat == []
    services.preference_set(actor=world.user(Role.GUARDIAN), meal_charged=True)
    _publish("ledger.meal_charged", {**payload, "posting_id": "p-2"})
    drain()
    assert len(providers.state.wechat) == 1
    text = providers.state.wechat[0]["data"]["keyword1"]["value"]
    assert "¥12.00" in text
    assert student.name not in text
    assert student.name[0] in text


def test_daily_limit_and_allergen_conflict_reach_the_guardian(world, providers):
    student, _guardian = _bind_parent(world)
    _publish(
        "ledger.daily_limit_reached",
        {"student_id": str(student.pk), "campus_id": str(student.campus_id), "limit_fen": 3000},
    )
    _publish(
        "consumption.allergen_conflict",
        {
            "student_id": str(student.pk),
            "campus_id": str(student.campus_id),
            "window_id": "w",
            "conflict_id": "c-1",
            "allergens": ["peanut"],
            "resolution": "pending",
        },
    )
    drain()
    kinds = set(Message.objects.values_list("kind", flat=True))
    assert kinds == {Kind.DAILY_LIMIT, Kind.ALLERGEN_CONFLICT}
    bodies = [m["data"]["keyword1"]["value"] for m in providers.state.wechat]
    assert any("¥30.00" in b for b in bodies)
    assert any("peanut" in b and "待处理" in b for b in bodies)  # the stage in words, not "pending"
    assert len(providers.state.sms) == 1  # the allergen alert also goes by SMS
    # The staff's answer is a second stage, told once however often it is published.
    for _ in range(2):
        _publish(
            "consumption.allergen_conflict",
            {
                "student_id": str(student.pk),
                "campus_id": str(student.campus_id),
                "window_id": "w",
                "conflict_id": "c-1",
                "meal_record_id": "mr-1",
                "allergens": ["peanut"],
                "resolution": "alternative",
            },
        )
    drain()
    assert Message.objects.filter(kind=Kind.ALLERGEN_CONFLICT).count() == 2
    assert any("替代套餐" in m["data"]["keyword1"]["value"] for m in providers.state.wechat)


def test_verification_code_goes_by_sms_to_the_mobile(world, providers):
    _publish(
        "org.verification_code",
        {
            "purpose": "bind",
            "mobile": "13812345678",
            "code": "482913",
            "expires_at": (timezone.now() + timedelta(minutes=10)).isoformat(),
            "student_id": None,
        },
    )
    _publish("org.verification_code", {"purpose": "bind", "mobile": "not-a-number", "code": "1", "expires_at": ""})
    drain()
    assert len(providers.state.sms) == 1
    sms = providers.state.sms[0]
    assert sms["PhoneNumbers"] == "13812345678"
    assert json.loads(sms["TemplateParam"])["code"] == "482913"


def test_student_left_stops_messages_still_waiting(world, providers, settings):
    student, guardian = _bind_parent(world)
    services.preference_set(
        actor=world.user(Role.GUARDIAN),
        quiet_start=timezone.localtime().time().replace(second=0, microsecond=0),
        quiet_end=(timezone.localtime() + timedelta(hours=2)).time().replace(second=0, microsecond=0),
    )
    _publish(
        "ledger.topup_credited",
        {"order_id": "o-5", "student_id": str(student.pk), "amount_fen": 100, "balance_fen": 100},
    )
    services.outbox_consume()
    assert Delivery.objects.get(channel=Channel.WECHAT).status == DeliveryStatus.HELD
    _publish("org.student_left", {"student_id": str(student.pk), "campus_id": str(student.campus_id), "school_id": ""})
    services.outbox_consume()
    assert Delivery.objects.get(channel=Channel.WECHAT).status == DeliveryStatus.SKIPPED


def test_kitchen_alarm_sends_the_snapshot_to_the_campus_group(world, providers, settings, tmp_path):
    from canteen.kitchen import services as kitchen

    settings.CANTEEN_KITCHEN_DIR = str(tmp_path)
    (tmp_path / "snap").mkdir()
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 200
    (tmp_path / "snap" / "a.jpg").write_bytes(jpeg)
    services.address_bind(channel=Channel.WECOM, address="robot-key-1", campus=world.campuses[0])
    camera = kitchen.camera_create(
        actor=None, canteen=world.canteens[0], name="后厨1", area="cooking", stream_url="rtsp://127.0.0.1:22099/x"
    )
    kitchen.alarm_raise(camera=camera, kind="detector:rodent", at=timezone.now(), snapshot="snap/a.jpg")
    drain()
    kinds = [m["msgtype"] for m in providers.state.wecom]
    assert kinds == ["markdown", "image"]
    assert "鼠患" in providers.state.wecom[0]["markdown"]["content"]
    import base64
    import hashlib

    image = providers.state.wecom[1]["image"]
    assert base64.b64decode(image["base64"]) == jpeg
    assert image["md5"] == hashlib.md5(jpeg).hexdigest()  # noqa: S324 (the protocol's checksum)
    # The manager and the school admin have it in their inbox.
    assert Message.objects.filter(kind=Kind.KITCHEN_ALARM, user=world.user(Role.CANTEEN_MANAGER)).exists()
    assert Message.objects.filter(kind=Kind.KITCHEN_ALARM, user=world.user(Role.SCHOOL_ADMIN)).exists()


def test_licence_expiring_tells_the_district_and_the_canteens_that_buy(world, providers):
    _publish(
        "procurement.licence_expiring",
        {
            "licence_id": "l-1",
            "supplier_id": "00000000-0000-0000-0000-000000000000",
            "supplier_name": "绿源农产",
            "district_id": str(world.districts[0].pk),
            "kind": "food_business",
            "expires_on": "2026-12-20",
        },
    )
    drain()
    message = Message.objects.get(kind=Kind.LICENCE_EXPIRING)
    assert message.user == world.user(Role.DISTRICT_REGULATOR)
    assert "绿源农产" in message.body_zh
    assert "2026-12-20" in message.body_zh


def _case(world):
    from canteen.supervision.choices import CaseSource
    from canteen.supervision.services import case_open

    with transaction.atomic():
        case, _ = case_open(
            actor=None,
            source=CaseSource.MANUAL,
            title="后厨地面积水",
            district_id=world.districts[0].pk,
            school_id=world.campuses[0].school_id,
            campus_id=world.campuses[0].pk,
        )
    return case


def test_case_assigned_and_returned_reach_the_school(world, providers):
    from canteen.supervision.services import case_assign, case_respond, case_review

    case = _case(world)
    regulator = world.user(Role.DISTRICT_REGULATOR)
    case_assign(case=case, actor=regulator, deadline=timezone.now() + timedelta(days=3))
    case_respond(case=case, actor=world.user(Role.SCHOOL_ADMIN), note="已清理")
    case_review(case=case, actor=regulator, accept=False, note="照片不清楚")
    drain()
    admin = world.user(Role.SCHOOL_ADMIN)
    manager = world.user(Role.CANTEEN_MANAGER)
    assert set(Message.objects.filter(user=admin).values_list("kind", flat=True)) == {
        Kind.CASE_ASSIGNED,
        Kind.CASE_RETURNED,
    }
    assert Message.objects.filter(user=manager, kind=Kind.CASE_ASSIGNED).exists()
    returned = Message.objects.get(user=admin, kind=Kind.CASE_RETURNED)
    assert "照片不清楚" in returned.body_zh
    assert case.number in returned.body_zh


def test_deadline_in_24h_then_overdue_escalates_school_to_district_to_city(world, providers):
    from canteen.notify.selectors import todo_for
    from canteen.notify.tasks import case_deadlines_check
    from canteen.supervision.services import case_assign

    case = _case(world)
    deadline = timezone.now() + timedelta(hours=30)
    case_assign(case=case, actor=world.user(Role.DISTRICT_REGULATOR), deadline=deadline)
    admin, district, city = (world.user(r) for r in (Role.SCHOOL_ADMIN, Role.DISTRICT_REGULATOR, Role.CITY_REGULATOR))
    city.city = world.city
    city.save()

    case_deadlines_check(now=deadline - timedelta(hours=30))
    assert not Message.objects.filter(kind=Kind.CASE_DUE_SOON).exists()  # not yet within 24 h
    case_deadlines_check(now=deadline - timedelta(hours=20))
    case_deadlines_check(now=deadline - timedelta(hours=10))  # once only
    assert Message.objects.filter(kind=Kind.CASE_DUE_SOON, user=admin).count() == 1

    after = deadline + timedelta(hours=1)
    case_deadlines_check(now=after)
    assert Message.objects.filter(kind=Kind.CASE_OVERDUE, user=admin).count() == 1
    assert Message.objects.filter(kind=Kind.CASE_ESCALATED, user=district).count() == 1
    assert not Message.objects.filter(kind=Kind.CASE_ESCALATED, user=city).exists()
    assert any(i["kind"] == "escalated" for i in todo_for(district, now=after))
    assert not any(i["kind"] == "escalated" for i in todo_for(city, now=after))

    red = deadline + timedelta(hours=49)
    case_deadlines_check(now=red)
    assert Message.objects.filter(kind=Kind.CASE_ESCALATED, user=city).count() == 1
    assert any(i["kind"] == "escalated" and case.number in i["text"] for i in todo_for(city, now=red))
    assert any(i["kind"] == "case" and i["urgent"] for i in todo_for(admin, now=red))


def test_feedback_giver_hears_the_answer_and_the_case_closure(world, providers):
    from canteen.supervision.services import (
        case_assign,
        case_close,
        case_respond,
        case_review,
        feedback_answer,
        feedback_open_case,
        feedback_submit,
    )

    with transaction.atomic():
        feedback = feedback_submit(
            canteen_code=world.canteens[0].code,
            kind="complaint",
            text="饭菜偏咸",
            contact="13700001111",
            ip="127.0.0.1",
        )
    regulator = world.user(Role.DISTRICT_REGULATOR)
    feedback_answer(feedback=feedback, actor=regulator, answer="已转学校核查")
    feedback.refresh_from_db()
    case = feedback.case or feedback_open_case(feedback=feedback, actor=regulator)
    case_assign(case=case, actor=regulator, school_id=world.campuses[0].school_id)
    case_respond(case=case, actor=world.user(Role.SCHOOL_ADMIN), note="已调整盐量")
    case_review(case=case, actor=regulator, accept=True)
    case_close(case=case, actor=regulator)
    drain()
    texts = [json.loads(s["TemplateParam"]) for s in providers.state.sms]
    assert [s["PhoneNumbers"] for s in providers.state.sms] == ["13700001111", "13700001111"]
    assert texts[0]["answer"] == "已转学校核查"
    assert texts[1]["case_number"] == case.number
