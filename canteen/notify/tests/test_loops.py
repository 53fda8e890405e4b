"""The loops that close by themselves, end to end: from the fact to the message received by the
local provider server and the case opened."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from canteen.notify import services
from canteen.notify.choices import Channel, Kind
from canteen.notify.models import Message
from canteen.org.choices import Role
from canteen.trace.tests.conftest import journey, route_points  # noqa: F401 (a fixture)

from .conftest import drain

pytestmark = pytest.mark.django_db


def _png() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return SimpleUploadedFile("thermometer.png", buffer.getvalue(), content_type="image/png")


def _dispatched_pork(world):
    from canteen.procurement import services as proc
    from canteen.procurement.choices import ItemCategory, Storage
    from canteen.procurement.tests.factories import batch_line, make_confirmed_order, make_item, make_supplier

    supplier = make_supplier(world, user=world.user(Role.SUPPLIER_USER))
    pork = make_item(
        world,
        code="M9",
        name="猪肉（后腿）",
        category=ItemCategory.MEAT,
        price="26.00",
        supplier=supplier,
        shelf_life_days=3,
        storage=Storage.CHILLED,
    )
    order = make_confirmed_order(world, supplier, [(pork, "10")])
    delivery = proc.delivery_dispatch(
        actor=world.user(Role.SUPPLIER_USER),
        order=order,
        lines=[batch_line(order.lines.get(), "10", number="PK-1")],
        vehicle_plate="鄂D1",
        driver_name="王",
        driver_phone="13900000000",
    )
    return supplier, delivery


def _truck_reports(world, supplier, delivery, temps):
    from canteen.trace import services as trace

    device, _token = trace.device_register(actor=world.user(Role.DISTRICT_REGULATOR), supplier=supplier, name="冷藏车")
    start = timezone.now() - timedelta(hours=2)
    trace.track_points_record(
        device=device, trip_ref="T1", delivery_id=delivery.pk, points=route_points(1, start, temps=temps)
    )
    delivery.refresh_from_db()


def test_a_45_minute_15c_break_must_be_rejected_and_opens_a_case(world, providers):
    from canteen.procurement import services as proc
    from canteen.procurement.choices import CheckResult
    from canteen.procurement.errors import ColdChainMustReject
    from canteen.supervision.models import Case

    services.address_bind(channel=Channel.WECOM, address="robot-key-1", campus=world.campuses[0])
    supplier, delivery = _dispatched_pork(world)
    _truck_reports(world, supplier, delivery, [3, 3, 3, *[15] * 9, 3, 3])
    assert delivery.coldchain_minutes == 45
    keeper = world.user(Role.STOREKEEPER)
    line = delivery.lines.get()
    with pytest.raises(ColdChainMustReject):
        proc.delivery_accept(
            actor=keeper,
            delivery=delivery,
            decisions=[{"line": line, "result": CheckResult.ACCEPT}],
            coldchain_reason="司机说没事",
            coldchain_photo=_png(),
        )
    proc.delivery_accept(
        actor=keeper, delivery=delivery, decisions=[{"line": line, "result": CheckResult.REJECT, "reason": "冷链超温"}]
    )
    drain()
    case = Case.objects.get(source_ref=f"coldchain:{delivery.pk}")
    assert case.campus_id == world.campuses[0].pk
    assert case.severity == "high"
    # The campus group heard twice: while the truck was on its way, and at the gate.
    group = [m["markdown"]["content"] for m in providers.state.wecom if m["msgtype"] == "markdown"]
    assert len(group) == 2
    assert all("冷链超温" in text and "45 分钟" in text for text in group)
    assert Message.objects.filter(kind=Kind.COLDCHAIN_BREACH, user=world.user(Role.DISTRICT_REGULATOR)).exists()
    assert Message.objects.filter(kind=Kind.COLDCHAIN_BREACH, user=world.user(Role.CANTEEN_MANAGER)).exists()


def test_a_short_break_is_accepted_only_with_a_reason_and_a_photo(world, providers, client):
    from canteen.procurement import services as proc
    from canteen.procurement.choices import CheckResult
    from canteen.procurement.errors import ColdChainNeedsEvidence
    from canteen.supervision.models import Case

    supplier, delivery = _dispatched_pork(world)
    _truck_reports(world, supplier, delivery, [3, 3, 3, 9, 9, 9, 9, 3, 3])
    assert delivery.coldchain_minutes == 20
    keeper = world.user(Role.STOREKEEPER)
    decisions = [{"line": delivery.lines.get(), "result": CheckResult.ACCEPT}]
    with pytest.raises(ColdChainNeedsEvidence):
        proc.delivery_accept(actor=keeper, delivery=delivery, decisions=decisions)
    with pytest.raises(ColdChainNeedsEvidence):
        proc.delivery_accept(actor=keeper, delivery=delivery, decisions=decisions, coldchain_reason="到货复测 3.2℃")
    proc.delivery_accept(
        actor=keeper, delivery=delivery, decisions=decisions, coldchain_reason="到货复测 3.2℃", coldchain_photo=_png()
    )
    delivery.refresh_from_db()
    assert delivery.status == "accepted"
    assert delivery.coldchain_photo.name
    # The photo is evidence: the campus's staff open it, a bare link opens nothing.
    assert client.get(delivery.coldchain_photo.url).status_code == 404
    client.force_login(keeper)
    assert client.get(delivery.coldchain_photo.url).status_code == 200
    drain()
    case = Case.objects.get(source_ref=f"coldchain:{delivery.pk}")
    assert "到货复测" in case.description
    assert Message.objects.filter(kind=Kind.COLDCHAIN_BREACH).exists()


def _schedule(world):
    from canteen.kitchen.models import KitchenSchedule

    return KitchenSchedule.objects.create(canteen=world.canteens[0], work_days=[0, 1, 2, 3, 4], meals=["lunch"])


def test_missing_records_alert_at_their_deadline_and_a_repeat_opens_a_case(world, providers):
    from canteen.kitchen.models import DisinfectionRecord
    from canteen.kitchen.tasks import missing_records_check
    from canteen.supervision.models import Case

    schedule = _schedule(world)
    schedule.record_deadlines = {"morning_check": "10:30"}
    schedule.save()
    services.address_bind(channel=Channel.WECOM, address="robot-key-1", campus=world.campuses[0])
    monday = date(2026, 12, 7)
    at = lambda h, m=0: timezone.make_aware(datetime.combine(monday, time(h, m)))  # noqa: E731
    canteens = [world.canteens[0]]

    assert missing_records_check(day=monday, now=at(10, 0), canteens=canteens) == 0  # before any deadline
    assert missing_records_check(day=monday, now=at(10, 31), canteens=canteens) == 1  # 晨检 due 10:30
    DisinfectionRecord.objects.create(
        canteen=world.canteens[0],
        day=monday,
        target="tableware",
        method="steam",
        started_at=at(13, 40),
        duration_min=15,
        operator_name="x",
    )
    # After 15:30 (lunch ends 13:30, +120 min): 消毒 done, 陪餐 missing.
    assert missing_records_check(day=monday, now=at(16, 0), canteens=canteens) == 1
    assert missing_records_check(day=monday, now=at(17, 0), canteens=canteens) == 0  # each gap once
    drain()
    records = sorted(
        m.context["record"]
        for m in Message.objects.filter(kind=Kind.RECORD_MISSING, user=world.user(Role.CANTEEN_MANAGER))
    )
    assert records == ["晨检", "陪餐"]
    assert sum("食安记录缺失" in m["markdown"]["content"] for m in providers.state.wecom) == 2
    assert not Case.objects.filter(source="record_missing").exists()  # a first gap is an alert

    tuesday = monday + timedelta(days=1)
    # The same canteen misses its 晨检 again the next day: a case.
    missing_records_check(day=tuesday, now=at(10, 31) + timedelta(days=1), canteens=canteens)
    case = Case.objects.get(source="record_missing")
    assert "晨检" in case.title
    assert case.campus_id == world.campuses[0].pk


def test_no_accompanied_meal_is_expected_on_a_weekend(world):
    from canteen.kitchen.models import MissingRecordAlert
    from canteen.kitchen.tasks import missing_records_check

    schedule = _schedule(world)
    schedule.work_days = [0, 1, 2, 3, 4, 5, 6]
    schedule.save()
    saturday = date(2026, 12, 12)
    late = timezone.make_aware(datetime.combine(saturday, time(23, 0)))
    missing_records_check(day=saturday, now=late, canteens=[world.canteens[0]])
    assert set(MissingRecordAlert.objects.values_list("kind", flat=True)) == {"morning_check", "disinfection"}


def test_a_recall_reaches_every_affected_party_once(journey, providers):  # noqa: F811
    from canteen.trace.services import recall_raise

    world = journey.world
    services.address_bind(channel=Channel.WECOM, address="robot-key-1", campus=world.campuses[0])
    student = world.students[0]
    services.address_bind(channel=Channel.WECHAT, address="openid-r", guardian=student.guardian_links.get().guardian)
    recall = recall_raise(actor=world.user(Role.DISTRICT_REGULATOR), code=journey.pork_code, reason="抽检不合格")
    # Issue 21's richer event for the same recall names the students who ate it.
    from canteen.core.events import publish

    with transaction.atomic():
        publish(
            "trace.recall_started",
            {
                "recall_id": str(recall.pk),
                "batch_ids": [str(journey.pork_code.batch_id)],
                "campus_ids": [str(world.campuses[0].pk)],
                "student_ids": [str(student.pk)],
                "reason": "抽检不合格",
            },
        )
    drain()
    users = set(Message.objects.filter(kind=Kind.RECALL).values_list("user__username", flat=True))
    assert {
        world.user(r).username
        for r in (Role.CANTEEN_MANAGER, Role.SCHOOL_ADMIN, Role.STOREKEEPER, Role.DISTRICT_REGULATOR, Role.GUARDIAN)
    } <= users
    # One message per person, though two events told of the recall.
    assert Message.objects.filter(kind=Kind.RECALL, user=world.user(Role.CANTEEN_MANAGER)).count() == 1
    assert (
        sum("抽检不合格" in m["markdown"]["content"] for m in providers.state.wecom if m["msgtype"] == "markdown") == 1
    )
    assert len(providers.state.wechat) == 1
    assert "抽检不合格" in providers.state.wechat[0]["data"]["keyword1"]["value"]
