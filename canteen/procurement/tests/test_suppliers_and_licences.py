"""Suppliers carry licences with expiry dates: an expired one blocks orders and deliveries,
expiring and expired ones raise alerts once, and uploads are checked by their bytes."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from canteen.core.errors import ValidationFailed
from canteen.core.models import OutboxEvent
from canteen.org.choices import Role
from canteen.procurement import selectors, services
from canteen.procurement.choices import LicenceKind, OrderStatus
from canteen.procurement.errors import (
    InvalidUpload,
    NotPermitted,
    SupplierLicenceExpired,
    SupplierLicenceMissing,
    SupplierNotApproved,
)
from canteen.procurement.models import Licence, PurchaseOrder

from .factories import PDF_BYTES, PNG_BYTES, batch_line, make_confirmed_order, make_uscc, regulator_of

pytestmark = pytest.mark.django_db


def _expire(supplier, days_ago=1):
    Licence.objects.filter(supplier=supplier, kind=LicenceKind.FOOD_BUSINESS).update(
        expires_on=timezone.localdate() - timedelta(days=days_ago)
    )


def test_uscc_checksum_is_enforced(proc, world):
    reg = regulator_of(world, world.districts[0])
    good = make_uscc(4242)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationFailed):
        services.supplier_create(actor=reg, district=world.districts[0], name="坏代码", uscc=bad)
    with pytest.raises(NotPermitted):
        services.supplier_create(actor=proc.user(Role.SCHOOL_ADMIN), district=world.districts[0], name="x", uscc=good)
    supplier = services.supplier_create(actor=reg, district=world.districts[0], name="好代码", uscc=good.lower())
    assert supplier.uscc == good


def test_expired_supplier_cannot_receive_orders(proc):
    manager = proc.user(Role.CANTEEN_MANAGER)
    _expire(proc.supplier)
    with pytest.raises(SupplierLicenceExpired) as exc:
        services.order_create(
            actor=manager,
            campus=proc.world.campuses[0],
            supplier=proc.supplier,
            delivery_day=timezone.localdate(),
            meal_kind="lunch",
            lines=[{"item": proc.cabbage, "quantity": "5"}],
        )
    assert exc.value.code == "supplier_licence_expired"
    assert "食品经营许可证" in exc.value.details["licences"][0]
    assert not PurchaseOrder.objects.exists()


def test_supplier_expiring_after_approval_cannot_be_sent_the_order(proc):
    manager, admin = proc.user(Role.CANTEEN_MANAGER), proc.user(Role.SCHOOL_ADMIN)
    order = services.order_create(
        actor=manager,
        campus=proc.world.campuses[0],
        supplier=proc.supplier,
        delivery_day=timezone.localdate(),
        meal_kind="lunch",
        lines=[{"item": proc.cabbage, "quantity": "5"}],
    )
    services.order_submit(actor=manager, order=order)
    services.order_approve(actor=admin, order=order)
    _expire(proc.supplier)
    with pytest.raises(SupplierLicenceExpired):
        services.order_send(actor=manager, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.APPROVED


def test_expired_supplier_cannot_deliver_and_goods_cannot_be_accepted(proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "10")])
    line = order.lines.get()
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER), order=order, lines=[batch_line(line, "5")]
    )
    _expire(proc.supplier)
    with pytest.raises(SupplierLicenceExpired):
        services.delivery_dispatch(actor=proc.user(Role.SUPPLIER_USER), order=order, lines=[batch_line(line, "5")])
    store = proc.user(Role.STOREKEEPER)
    with pytest.raises(SupplierLicenceExpired):
        services.delivery_accept(
            actor=store, delivery=delivery, decisions=[{"line": delivery.lines.get(), "result": "accept"}]
        )
    # Turning it away is still possible, and is recorded.
    services.delivery_refuse(actor=store, delivery=delivery, reason="供应商许可证已过期")
    delivery.refresh_from_db()
    assert delivery.status == "rejected"
    assert delivery.lines.get().acceptance.reason == "供应商许可证已过期"


def test_renewal_supersedes_expired_licence(proc):
    reg = regulator_of(proc.world, proc.world.districts[0])
    _expire(proc.supplier)
    assert services.supplier_standing(supplier=proc.supplier).code == "supplier_licence_expired"
    services.licence_add(
        actor=reg,
        supplier=proc.supplier,
        kind=LicenceKind.FOOD_BUSINESS,
        number="JY-NEW",
        expires_on=timezone.localdate() + timedelta(days=1000),
    )
    services.supplier_assert_can_trade(supplier=proc.supplier)
    assert selectors.licence_alerts(actor=reg)["expired"] == []


def test_unapproved_or_unlicensed_supplier_refused(proc, world):
    reg = regulator_of(world, world.districts[0])
    bare = services.supplier_create(actor=reg, district=world.districts[0], name="新供应商", uscc=make_uscc(777))
    with pytest.raises(SupplierNotApproved):
        services.supplier_assert_can_trade(supplier=bare)
    services.supplier_set_approval(actor=reg, supplier=bare, approved=True)
    with pytest.raises(SupplierLicenceMissing):
        services.supplier_assert_can_trade(supplier=bare)


def test_licence_alerts_are_raised_once(proc):
    reg = regulator_of(proc.world, proc.world.districts[0])
    today = timezone.localdate()
    services.licence_add(
        actor=reg,
        supplier=proc.supplier,
        kind=LicenceKind.HEALTH,
        number="HC-1",
        expires_on=today + timedelta(days=10),
    )
    services.licence_add(
        actor=reg,
        supplier=proc.supplier,
        kind=LicenceKind.ANIMAL_EPIDEMIC,
        number="AE-1",
        expires_on=today - timedelta(days=2),
    )
    from canteen.procurement.tasks import licence_alerts as periodic_job

    assert periodic_job() == "licence alerts: 1 expiring, 1 expired"  # the worker's hourly job
    assert services.licence_alerts_raise(on=today) == {"expiring": 0, "expired": 0}
    expiring = OutboxEvent.objects.get(topic="procurement.licence_expiring")
    assert expiring.payload["number"] == "HC-1"
    assert expiring.payload["district_id"] == str(proc.supplier.district_id)
    # Eleven days later the expiring one has expired: one more event.
    assert services.licence_alerts_raise(on=today + timedelta(days=11)) == {"expiring": 0, "expired": 1}
    alerts = selectors.licence_alerts(actor=reg)
    assert [lic.number for lic in alerts["expired"]] == ["AE-1"]
    assert [lic.number for lic in alerts["expiring"]] == ["HC-1"]
    # Another district sees none of it.
    other = regulator_of(proc.world, proc.world.districts[1])
    assert selectors.licence_alerts(actor=other) == {"expired": [], "expiring": []}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"<html><script>alert(1)</script></html>", "application/pdf"),  # HTML dressed as PDF
        (PDF_BYTES, "image/png"),  # declared type disagrees with the bytes
        (b"MZ\x90\x00" + b"\x00" * 60, "image/jpeg"),  # an executable
        (b"", "application/pdf"),
    ],
)
def test_uploads_are_judged_by_their_bytes(proc, content, content_type):
    upload = SimpleUploadedFile("report.pdf", content, content_type=content_type)
    with pytest.raises(InvalidUpload):
        services.upload_check(upload=upload)


def test_upload_size_limit_and_good_files(proc):
    ok = services.upload_check(upload=SimpleUploadedFile("a.png", PNG_BYTES, content_type="image/png"))
    assert ok.content_type == "image/png"
    assert ok.extension == "png"
    with override_settings(CANTEEN_PROCUREMENT_MAX_UPLOAD_BYTES=20):
        with pytest.raises(InvalidUpload):
            services.upload_check(upload=SimpleUploadedFile("a.pdf", PDF_BYTES, content_type="application/pdf"))


def test_a_licence_scan_that_is_a_decompression_bomb_is_refused(proc):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, "PNG")
    with pytest.raises(InvalidUpload) as caught:
        services.upload_check(upload=SimpleUploadedFile("scan.png", buf.getvalue(), content_type="image/png"))
    assert caught.value.details["reason"] == "too_many_pixels"
