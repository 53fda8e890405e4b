"""Procurement test data built through the services, so tests exercise the real rules."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from canteen.core.money import Money
from canteen.org.choices import Role
from canteen.org.models import Campus, District
from canteen.org.tests.factories import World, make_user
from canteen.procurement import services
from canteen.procurement.choices import ItemCategory, LicenceKind, MealKind, Storage
from canteen.procurement.models import Item, PurchaseOrder, Supplier
from canteen.procurement.services import uscc_check_char

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _png() -> bytes:
    # A real image: uploads are opened (with a pixel limit), so magic bytes alone are refused.
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


PNG_BYTES = _png()


def qc_pdf(name: str = "qc.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")


def make_uscc(n: int) -> str:
    body = f"91421003MA{n:07d}"[:17]
    return body + uscc_check_char(body)


def regulator_of(world: World, district: District) -> Any:
    user = world.user(Role.DISTRICT_REGULATOR)
    if user.district_id == district.pk:
        return user
    return make_user(f"reg-{district.code}", Role.DISTRICT_REGULATOR, district=district)


_counter = {"n": 0}


def make_supplier(
    world: World,
    *,
    district: District | None = None,
    name: str = "荆楚鲜蔬配送有限公司",
    expires_on: date | None = None,
    user: Any = None,
) -> Supplier:
    """An approved supplier with a business licence and a food business licence."""
    district = district or world.districts[0]
    reg = regulator_of(world, district)
    _counter["n"] += 1
    supplier = services.supplier_create(
        actor=reg,
        district=district,
        name=f"{name}{_counter['n']}",
        uscc=make_uscc(_counter["n"]),
        contact_name="张经理",
        contact_phone="13800000000",
    )
    today = timezone.localdate()
    services.licence_add(
        actor=reg, supplier=supplier, kind=LicenceKind.BUSINESS, number=f"BL{_counter['n']}", expires_on=None
    )
    services.licence_add(
        actor=reg,
        supplier=supplier,
        kind=LicenceKind.FOOD_BUSINESS,
        number=f"JY{_counter['n']}",
        issued_on=today - timedelta(days=700),
        expires_on=expires_on or today + timedelta(days=365),
        scan=qc_pdf("licence.pdf"),
    )
    services.supplier_set_approval(actor=reg, supplier=supplier, approved=True)
    if user is not None:
        services.supplier_member_add(actor=reg, supplier=supplier, user=user)
    return supplier


def make_item(
    world: World,
    *,
    district: District | None = None,
    code: str,
    name: str,
    category: str = ItemCategory.VEGETABLE,
    unit: str = "kg",
    shelf_life_days: int | None = 5,
    storage: str = Storage.AMBIENT,
    price: str | None = None,
    supplier: Supplier | None = None,
) -> Item:
    district = district or world.districts[0]
    reg = regulator_of(world, district)
    item = services.item_create(
        actor=reg,
        district=district,
        code=code,
        name=name,
        category=category,
        unit=unit,
        shelf_life_days=shelf_life_days,
        storage=storage,
    )
    if price is not None and supplier is not None:
        services.framework_price_set(
            actor=reg,
            supplier=supplier,
            item=item,
            price=Money.from_yuan(price),
            valid_from=timezone.localdate() - timedelta(days=30),
        )
    return item


def make_confirmed_order(
    world: World,
    supplier: Supplier,
    lines: list[tuple[Item, str]],
    *,
    campus: Campus | None = None,
    day: date | None = None,
    meal_kind: str = MealKind.LUNCH,
) -> PurchaseOrder:
    campus = campus or world.campuses[0]
    manager = world.user(Role.CANTEEN_MANAGER)
    school_admin = world.user(Role.SCHOOL_ADMIN)
    order = services.order_create(
        actor=manager,
        campus=campus,
        supplier=supplier,
        delivery_day=day or timezone.localdate(),
        meal_kind=meal_kind,
        lines=[{"item": item, "quantity": qty} for item, qty in lines],
    )
    services.order_submit(actor=manager, order=order)
    services.order_approve(actor=school_admin, order=order)
    services.order_send(actor=manager, order=order)
    services.order_confirm(actor=world.user(Role.SUPPLIER_USER), order=order)
    order.refresh_from_db()
    return order


def batch_line(
    order_line: Any,
    quantity: str | Decimal,
    *,
    number: str = "B1",
    produced: date | None = None,
    qc: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "order_line": order_line,
        "quantity": str(quantity),
        "batch_number": number,
        "producer": "荆州市绿源蔬菜基地",
        "production_date": produced or timezone.localdate() - timedelta(days=1),
        "qc_report": qc_pdf() if qc else None,
        **extra,
    }
