"""Procurement writes. Every function is keyword-only, atomic, audited; state machines move only
through `order_transition` and `delivery_transition`, which refuse moves not in the dict and
write a history row."""

from __future__ import annotations

import calendar
import hashlib
import importlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import Conflict, InvalidTransition, ValidationFailed
from canteen.core.events import publish
from canteen.core.money import Money
from canteen.ledger import food_cost
from canteen.org.choices import Role
from canteen.org.models import Campus, District

from .choices import (
    BatchStatus,
    CheckResult,
    CountStatus,
    DeliveryStatus,
    ItemCategory,
    LicenceKind,
    MealKind,
    MovementKind,
    OrderStatus,
    Storage,
)
from .errors import (
    AcceptanceRefused,
    BatchQuarantined,
    ColdChainMustReject,
    ColdChainNeedsEvidence,
    InsufficientStock,
    InvalidUpload,
    NotInCatalogue,
    NotPermitted,
    NotYourSupplier,
    SupplierLicenceExpired,
    SupplierLicenceMissing,
    SupplierNotApproved,
    TraceDataMissing,
    TraceDataMissingAtDispatch,
)
from .models import (
    AcceptanceCheck,
    Batch,
    Delivery,
    DeliveryLine,
    DeliveryStatusChange,
    FrameworkPrice,
    Item,
    Licence,
    OrderStatusChange,
    PurchaseOrder,
    PurchaseOrderLine,
    StockCount,
    StockCountLine,
    StockMovement,
    Supplier,
    SupplierMember,
)

# ---------------------------------------------------------------- state machines

ORDER_MOVES: dict[str, frozenset[str]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.SUBMITTED, OrderStatus.CANCELLED}),
    # A submitted order may be sent back to draft for changes.
    OrderStatus.SUBMITTED: frozenset({OrderStatus.APPROVED, OrderStatus.DRAFT, OrderStatus.CANCELLED}),
    OrderStatus.APPROVED: frozenset({OrderStatus.SENT, OrderStatus.CANCELLED}),
    OrderStatus.SENT: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset(
        {OrderStatus.PARTIALLY_DELIVERED, OrderStatus.DELIVERED, OrderStatus.CLOSED, OrderStatus.CANCELLED}
    ),
    OrderStatus.PARTIALLY_DELIVERED: frozenset({OrderStatus.DELIVERED, OrderStatus.CLOSED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.CLOSED}),
    OrderStatus.CLOSED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

DELIVERY_MOVES: dict[str, frozenset[str]] = {
    DeliveryStatus.DISPATCHED: frozenset({DeliveryStatus.ARRIVED, DeliveryStatus.REJECTED}),
    DeliveryStatus.ARRIVED: frozenset(
        {DeliveryStatus.ACCEPTED, DeliveryStatus.PARTIALLY_ACCEPTED, DeliveryStatus.REJECTED}
    ),
    DeliveryStatus.ACCEPTED: frozenset(),
    DeliveryStatus.PARTIALLY_ACCEPTED: frozenset(),
    DeliveryStatus.REJECTED: frozenset(),
}

ORDERING_ROLES = frozenset({Role.CANTEEN_MANAGER, Role.STOREKEEPER, Role.SCHOOL_ADMIN})
APPROVING_ROLES = frozenset({Role.SCHOOL_ADMIN, Role.DISTRICT_REGULATOR})
SENDING_ROLES = frozenset({Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER, Role.DISTRICT_REGULATOR})
STORE_ROLES = frozenset({Role.STOREKEEPER, Role.CANTEEN_MANAGER})

REQUIRED_KINDS_ANY = (LicenceKind.FOOD_BUSINESS, LicenceKind.FOOD_PRODUCTION)
EXPIRING_WITHIN_DAYS = 30
# Arrival temperature limits (°C) by storage: chilled goods above 8 °C, frozen above −12 °C fail.
TEMPERATURE_LIMITS = {Storage.CHILLED: Decimal("8"), Storage.FROZEN: Decimal("-12")}
QTY_STEP = Decimal("0.001")


def _max_upload_bytes() -> int:
    return int(getattr(settings, "CANTEEN_PROCUREMENT_MAX_UPLOAD_BYTES", 10 * 1024 * 1024))


# ---------------------------------------------------------------- helpers


def _label(actor: Any) -> str:
    return (getattr(actor, "username", None) or str(actor or "system"))[:150]


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _is_super(actor: Any) -> bool:
    return bool(getattr(actor, "is_superuser", False))


def _require_campus_role(actor: Any, campus: Campus, roles: Iterable[str]) -> None:
    if _is_super(actor):
        return
    if (
        getattr(actor, "role", "") not in set(roles)
        or not Campus.objects.visible_to(actor).filter(pk=campus.pk).exists()
    ):
        raise NotPermitted()


def _require_district_regulator(actor: Any, district: District) -> None:
    if _is_super(actor):
        return
    if getattr(actor, "role", "") != Role.DISTRICT_REGULATOR or actor.district_id != district.pk:
        raise NotPermitted()


def _require_member(actor: Any, supplier: Supplier) -> None:
    if _is_super(actor):
        return
    if (
        getattr(actor, "role", "") != Role.SUPPLIER_USER
        or not SupplierMember.objects.filter(user_id=actor.pk, supplier=supplier).exists()
    ):
        raise NotYourSupplier()


def _quantity(value: Any, *, field: str = "quantity", allow_zero: bool = False) -> Decimal:
    if isinstance(value, float):
        value = str(value)  # form and JSON input; quantities are not money
    try:
        qty = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationFailed("数量格式有误", "Not a valid quantity", details={field: str(value)}) from None
    if not qty.is_finite() or qty < 0 or (qty == 0 and not allow_zero) or qty != qty.quantize(QTY_STEP):
        raise ValidationFailed(
            "数量须为正数，最多三位小数",
            "Quantity must be positive with at most 3 decimals",
            details={field: str(value)},
        )
    if qty >= Decimal("1e9"):
        raise ValidationFailed("数量过大", "Quantity too large", details={field: str(value)})
    return qty


def _amount_fen(quantity: Decimal, price_fen: int) -> int:
    return int((quantity * price_fen).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def retention_until(*, expires_on: date | None, checked_on: date) -> date:
    """进货查验记录: kept ≥ 6 months past the shelf life, or ≥ 2 years when there is none."""
    if expires_on is None:
        return add_months(checked_on, 24)
    return max(add_months(expires_on, 6), checked_on)


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    """GB 32100-2015 unified social credit code: 18 characters with a mod-31 check character."""
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


# ---------------------------------------------------------------- uploads

_MAGIC = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
]
_EXT = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class CheckedFile:
    content: bytes
    content_type: str
    sha256: str
    extension: str


def upload_check(*, upload: Any) -> CheckedFile:
    """Accept only PDFs and images, judged by the declared content type AND the magic bytes,
    within the size limit; anything else (HTML, scripts, a renamed .exe) is refused."""
    if upload is None:
        raise InvalidUpload()
    size = getattr(upload, "size", None)
    limit = _max_upload_bytes()
    if size is not None and size > limit:
        raise InvalidUpload(details={"size": size, "limit": limit})
    content = upload.read(limit + 1)
    if len(content) > limit or not content:
        raise InvalidUpload(details={"size": len(content), "limit": limit})
    detected = next((ctype for magic, ctype in _MAGIC if content.startswith(magic)), None)
    if detected is None and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        detected = "image/webp"
    declared = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    if declared == "image/jpg":
        declared = "image/jpeg"
    if detected is None or (declared and declared != detected):
        raise InvalidUpload(details={"declared": declared, "detected": detected or "unknown"})
    if detected.startswith("image/"):
        from canteen.core.images import ImageRejected, image_open_bounded

        try:
            image_open_bounded(content).close()
        except ImageRejected as exc:
            # The magic bytes above decide what a file is; here only its size in pixels counts.
            if exc.details.get("reason") == "too_many_pixels":
                raise InvalidUpload(details=exc.details) from exc
    return CheckedFile(content, detected, hashlib.sha256(content).hexdigest(), _EXT[detected])


# ---------------------------------------------------------------- suppliers and licences


@transaction.atomic
def supplier_create(
    *,
    actor: Any,
    district: District,
    name: str,
    uscc: str,
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
) -> Supplier:
    _require_district_regulator(actor, district)
    uscc = (uscc or "").strip().upper()
    if not uscc_is_valid(uscc):
        raise ValidationFailed("统一社会信用代码无效", "Invalid unified social credit code", details={"uscc": uscc})
    if not name.strip():
        raise ValidationFailed("请填写供应商名称", "The supplier name is required")
    if Supplier.objects.filter(uscc=uscc).exists():
        raise Conflict("该信用代码的供应商已存在", "A supplier with this credit code exists", code="supplier_exists")
    supplier = Supplier.objects.create(
        district=district,
        name=name.strip(),
        uscc=uscc,
        contact_name=contact_name,
        contact_phone=contact_phone,
        address=address,
    )
    audit_record(
        actor=actor,
        action="procurement.supplier_created",
        target=supplier,
        after={"name": supplier.name, "uscc": uscc},
        district_id=district.pk,
    )
    return supplier


@transaction.atomic
def supplier_set_approval(*, actor: Any, supplier: Supplier, approved: bool, note: str = "") -> Supplier:
    # The caller's instance is updated too, so it does not go on holding the old flag.
    Supplier.objects.select_for_update().filter(pk=supplier.pk).first()
    supplier.refresh_from_db()
    _require_district_regulator(actor, supplier.district)
    before = {"district_approved": supplier.district_approved}
    supplier.district_approved = approved
    supplier.approved_at = timezone.now() if approved else None
    supplier.save(update_fields=["district_approved", "approved_at", "updated_at"])
    audit_record(
        actor=actor,
        action="procurement.supplier_approved" if approved else "procurement.supplier_suspended",
        target=supplier,
        before=before,
        after={"district_approved": approved, "note": note},
        district_id=supplier.district_id,
    )
    return supplier


@transaction.atomic
def supplier_member_add(*, actor: Any, supplier: Supplier, user: Any, title: str = "") -> SupplierMember:
    _require_district_regulator(actor, supplier.district)
    if getattr(user, "role", "") != Role.SUPPLIER_USER:
        raise ValidationFailed("只能关联供应商账号", "Only supplier accounts can be linked")
    member, created = SupplierMember.objects.get_or_create(user=user, defaults={"supplier": supplier, "title": title})
    if not created and member.supplier_id != supplier.pk:
        raise Conflict("该账号已属于其他供应商", "This account already works for another supplier")
    audit_record(
        actor=actor, action="procurement.supplier_member_added", target=member, district_id=supplier.district_id
    )
    return member


@transaction.atomic
def licence_add(
    *,
    actor: Any,
    supplier: Supplier,
    kind: str,
    number: str,
    issued_on: date | None = None,
    expires_on: date | None = None,
    issuer: str = "",
    required: bool = True,
    scan: Any = None,
) -> Licence:
    """Add (or renew: a newer licence of the same kind supersedes the old one) a licence."""
    if not _is_super(actor) and getattr(actor, "role", "") == Role.SUPPLIER_USER:
        _require_member(actor, supplier)
    else:
        _require_district_regulator(actor, supplier.district)
    if kind not in LicenceKind.values:
        raise ValidationFailed("证照类型无效", "Unknown licence kind", details={"kind": kind})
    if not number.strip():
        raise ValidationFailed("请填写证照编号", "The licence number is required")
    if issued_on and expires_on and expires_on < issued_on:
        raise ValidationFailed("有效期截止早于发证日期", "The expiry date is before the issue date")
    if Licence.objects.filter(supplier=supplier, kind=kind, number=number.strip()).exists():
        raise Conflict("该证照已登记", "This licence is already recorded", code="licence_exists")
    licence = Licence(
        supplier=supplier,
        kind=kind,
        number=number.strip(),
        issued_on=issued_on,
        expires_on=expires_on,
        issuer=issuer,
        required=required,
    )
    if scan is not None:
        checked = upload_check(upload=scan)
        licence.scan.save(f"{uuid.uuid4().hex}.{checked.extension}", ContentFile(checked.content), save=False)
        licence.scan_content_type = checked.content_type
    licence.save()
    audit_record(
        actor=actor,
        action="procurement.licence_added",
        target=licence,
        after={"kind": kind, "number": licence.number, "expires_on": str(expires_on or "")},
        district_id=supplier.district_id,
    )
    return licence


@dataclass(frozen=True)
class SupplierStanding:
    can_trade: bool
    code: str  # "" when it can trade, else the error code
    expired: list[Licence]
    expiring: list[Licence]


def supplier_standing(*, supplier: Supplier, on: date | None = None) -> SupplierStanding:
    """Per licence kind the latest-expiring licence governs (a renewal supersedes the old one).
    Blocked when any required kind's governing licence has expired, when no food business or
    production licence exists, or when the district has not approved the supplier."""
    on = on or timezone.localdate()
    governing: dict[str, Licence] = {}
    for lic in supplier.licences.all():
        current = governing.get(lic.kind)
        if current is None or _expiry_key(lic) > _expiry_key(current):
            governing[lic.kind] = lic
    expired = [lic for lic in governing.values() if lic.required and lic.is_expired(on)]
    soon = on + timedelta(days=EXPIRING_WITHIN_DAYS)
    expiring = [lic for lic in governing.values() if lic.expires_on is not None and on <= lic.expires_on <= soon]
    if not supplier.district_approved or not supplier.is_active:
        code = SupplierNotApproved.code
    elif expired:
        code = SupplierLicenceExpired.code
    elif not any(kind in governing and governing[kind].required for kind in REQUIRED_KINDS_ANY):
        code = SupplierLicenceMissing.code
    else:
        code = ""
    return SupplierStanding(code == "", code, expired, expiring)


def _expiry_key(lic: Licence) -> date:
    return lic.expires_on or date.max


def supplier_assert_can_trade(*, supplier: Supplier, on: date | None = None) -> None:
    # Judge the stored truth, not a possibly stale instance held by the caller.
    supplier = Supplier.objects.prefetch_related("licences").get(pk=supplier.pk)
    standing = supplier_standing(supplier=supplier, on=on)
    if standing.can_trade:
        return
    details = {"supplier": supplier.name, "licences": [f"{lic} ({lic.expires_on})" for lic in standing.expired]}
    error = {
        SupplierNotApproved.code: SupplierNotApproved,
        SupplierLicenceExpired.code: SupplierLicenceExpired,
        SupplierLicenceMissing.code: SupplierLicenceMissing,
    }[standing.code]
    raise error(details=details)


# ---------------------------------------------------------------- catalogue and prices


@transaction.atomic
def item_create(
    *,
    actor: Any,
    district: District,
    code: str,
    name: str,
    category: str,
    unit: str,
    spec: str = "",
    shelf_life_days: int | None = None,
    storage: str = Storage.AMBIENT,
    food_code: str = "",
    quick_tests: list[str] | None = None,
) -> Item:
    _require_district_regulator(actor, district)
    if category not in ItemCategory.values or storage not in Storage.values:
        raise ValidationFailed("类别或储存方式无效", "Unknown category or storage")
    if not code.strip() or not name.strip() or not unit.strip():
        raise ValidationFailed("请填写编码、名称和单位", "Code, name and unit are required")
    if Item.objects.filter(district=district, code=code.strip()).exists():
        raise Conflict("目录中已有该编码", "This code is already in the catalogue", code="item_exists")
    item = Item.objects.create(
        district=district,
        code=code.strip(),
        name=name.strip(),
        category=category,
        unit=unit.strip(),
        spec=spec,
        shelf_life_days=shelf_life_days,
        storage=storage,
        food_code=food_code,
        quick_tests=list(quick_tests or []),
    )
    audit_record(actor=actor, action="procurement.item_created", target=item, district_id=district.pk)
    return item


@transaction.atomic
def framework_price_set(
    *, actor: Any, supplier: Supplier, item: Item, price: Money, valid_from: date, note: str = ""
) -> FrameworkPrice:
    """Set a new framework price version from `valid_from`; the previous open version is closed
    the day before. Earlier versions are never edited in place except for that closing date."""
    _require_district_regulator(actor, item.district)
    if supplier.district_id != item.district_id:
        raise ValidationFailed("供应商与目录不属于同一区", "Supplier and catalogue belong to different districts")
    if not isinstance(price, Money) or price.fen <= 0:
        raise ValidationFailed("价格须大于零", "The price must be positive")
    # Lock the item's row for this supplier so two concurrent changes cannot both be version n+1.
    Item.objects.select_for_update().filter(pk=item.pk).first()
    versions = list(FrameworkPrice.objects.select_for_update().filter(supplier=supplier, item=item).order_by("version"))
    latest = versions[-1] if versions else None
    if latest is not None and latest.valid_from >= valid_from:
        raise Conflict(
            "新价格的生效日期须晚于当前版本",
            "A new price version must start after the current version's start",
            code="price_version_order",
            details={"current_from": str(latest.valid_from)},
        )
    if latest is not None and (latest.valid_to is None or latest.valid_to >= valid_from):
        before = {"valid_to": str(latest.valid_to or "")}
        latest.valid_to = valid_from - timedelta(days=1)
        latest.save(update_fields=["valid_to", "updated_at"])
        audit_record(
            actor=actor,
            action="procurement.price_closed",
            target=latest,
            before=before,
            after={"valid_to": str(latest.valid_to)},
            district_id=item.district_id,
        )
    new = FrameworkPrice.objects.create(
        district=item.district,
        supplier=supplier,
        item=item,
        price_fen=price.fen,
        valid_from=valid_from,
        version=(latest.version + 1) if latest else 1,
        note=note,
        created_by=_user_or_none(actor),
    )
    audit_record(
        actor=actor,
        action="procurement.price_set",
        target=new,
        before={"price_fen": latest.price_fen, "version": latest.version} if latest else None,
        after={"price_fen": new.price_fen, "version": new.version, "valid_from": str(valid_from)},
        district_id=item.district_id,
    )
    return new


def price_on(*, supplier: Supplier, item: Item, day: date) -> FrameworkPrice | None:
    return (
        FrameworkPrice.objects.filter(supplier=supplier, item=item, valid_from__lte=day)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        .order_by("-version")
        .first()
    )


# ---------------------------------------------------------------- purchase orders


def _number(prefix: str, day: date) -> str:
    return f"{prefix}{day:%Y%m%d}-{uuid.uuid4().hex[:6].upper()}"


def _order_lines(order: PurchaseOrder, lines: Iterable[dict[str, Any]]) -> list[PurchaseOrderLine]:
    """Validate lines against the catalogue: district items at the supplier's framework price
    valid on the delivery day."""
    built: list[PurchaseOrderLine] = []
    seen: set[Any] = set()
    for raw in lines:
        item = raw["item"]
        if not isinstance(item, Item):
            item = Item.objects.filter(pk=item).first()
        if item is None or item.district_id != order.district_id or not item.is_active:
            raise NotInCatalogue(details={"item": str(raw["item"])})
        if item.pk in seen:
            raise ValidationFailed(
                "同一食材只能出现一行", "Each item may appear in one line only", details={"item": item.name}
            )
        seen.add(item.pk)
        price = price_on(supplier=order.supplier, item=item, day=order.delivery_day)
        if price is None:
            raise NotInCatalogue(details={"item": item.name, "supplier": order.supplier.name})
        qty = _quantity(raw["quantity"])
        built.append(
            PurchaseOrderLine(
                order=order,
                item=item,
                framework_price=price,
                quantity=qty,
                unit=item.unit,
                price_fen=price.price_fen,
                amount_fen=_amount_fen(qty, price.price_fen),
            )
        )
    if not built:
        raise ValidationFailed("订单至少需要一行", "An order needs at least one line")
    return built


@transaction.atomic
def order_create(
    *,
    actor: Any,
    campus: Campus,
    supplier: Supplier,
    delivery_day: date,
    meal_kind: str,
    lines: Iterable[dict[str, Any]],
    note: str = "",
) -> PurchaseOrder:
    """lines: [{"item": Item or id, "quantity": Decimal/str}]."""
    _require_campus_role(actor, campus, ORDERING_ROLES)
    if meal_kind not in MealKind.values:
        raise ValidationFailed("餐次无效", "Unknown meal", details={"meal_kind": meal_kind})
    if delivery_day < timezone.localdate():
        raise ValidationFailed("送货日期不能早于今天", "The delivery day cannot be in the past")
    district = campus.school.district
    if supplier.district_id != district.pk:
        raise NotInCatalogue(details={"supplier": supplier.name})
    supplier_assert_can_trade(supplier=supplier, on=delivery_day)
    canteen = campus.canteens.order_by("code").first()
    if canteen is None:
        raise ValidationFailed("该校区没有食堂", "This campus has no canteen")
    order = PurchaseOrder(
        number=_number("PO", delivery_day),
        district=district,
        campus=campus,
        canteen=canteen,
        supplier=supplier,
        delivery_day=delivery_day,
        meal_kind=meal_kind,
        note=note,
        created_by=_user_or_none(actor),
    )
    built = _order_lines(order, lines)
    order.total_fen = sum(line.amount_fen for line in built)
    order.save()
    PurchaseOrderLine.objects.bulk_create(built)
    OrderStatusChange.objects.create(
        order=order, from_status="", to_status=OrderStatus.DRAFT, actor=_user_or_none(actor), actor_label=_label(actor)
    )
    audit_record(
        actor=actor,
        action="procurement.order_created",
        target=order,
        after={"supplier": supplier.name, "total_fen": order.total_fen, "lines": len(built)},
        district_id=district.pk,
        school_id=campus.school_id,
    )
    return order


@transaction.atomic
def order_replace_lines(*, actor: Any, order: PurchaseOrder, lines: Iterable[dict[str, Any]]) -> PurchaseOrder:
    order = PurchaseOrder.objects.select_for_update().select_related("supplier").get(pk=order.pk)
    _require_campus_role(actor, order.campus, ORDERING_ROLES)
    if order.status != OrderStatus.DRAFT:
        raise InvalidTransition("只有草稿订单可以修改", "Only draft orders can be changed")
    built = _order_lines(order, lines)
    before = {"total_fen": order.total_fen}
    order.lines.all().delete()
    PurchaseOrderLine.objects.bulk_create(built)
    order.total_fen = sum(line.amount_fen for line in built)
    order.save(update_fields=["total_fen", "updated_at"])
    audit_record(
        actor=actor,
        action="procurement.order_changed",
        target=order,
        before=before,
        after={"total_fen": order.total_fen},
        district_id=order.district_id,
        school_id=order.campus.school_id,
    )
    return order


def order_transition(*, order: PurchaseOrder, to_status: str, actor: Any, note: str = "") -> PurchaseOrder:
    """The one place an order changes state: refuses moves not in ORDER_MOVES and writes the
    history row and the audit event. Callers hold the order row lock (select_for_update)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_transition must run inside a transaction")
    if to_status not in ORDER_MOVES.get(order.status, frozenset()):
        raise InvalidTransition(
            details={"from": order.status, "to": to_status, "allowed": sorted(ORDER_MOVES.get(order.status, ()))}
        )
    from_status = order.status
    order.status = to_status
    order.save(update_fields=["status", "updated_at"])
    OrderStatusChange.objects.create(
        order=order,
        from_status=from_status,
        to_status=to_status,
        actor=_user_or_none(actor),
        actor_label=_label(actor),
        note=note[:200],
    )
    audit_record(
        actor=actor,
        action=f"procurement.order_{to_status}",
        target=order,
        before={"status": from_status},
        after={"status": to_status, "note": note},
        district_id=order.district_id,
        school_id=order.campus.school_id,
    )
    return order


def _locked_order(order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update().select_related("campus", "supplier").get(pk=order.pk)


@transaction.atomic
def order_submit(*, actor: Any, order: PurchaseOrder) -> PurchaseOrder:
    order = _locked_order(order)
    _require_campus_role(actor, order.campus, ORDERING_ROLES)
    return order_transition(order=order, to_status=OrderStatus.SUBMITTED, actor=actor)


@transaction.atomic
def order_return(*, actor: Any, order: PurchaseOrder, reason: str) -> PurchaseOrder:
    """The approver sends a submitted order back to draft."""
    order = _locked_order(order)
    _require_campus_role(actor, order.campus, APPROVING_ROLES)
    if not reason.strip():
        raise ValidationFailed("请填写退回原因", "A reason is required")
    return order_transition(order=order, to_status=OrderStatus.DRAFT, actor=actor, note=reason)


@transaction.atomic
def order_approve(*, actor: Any, order: PurchaseOrder) -> PurchaseOrder:
    order = _locked_order(order)
    _require_campus_role(actor, order.campus, APPROVING_ROLES)
    return order_transition(order=order, to_status=OrderStatus.APPROVED, actor=actor)


@transaction.atomic
def order_send(*, actor: Any, order: PurchaseOrder) -> PurchaseOrder:
    """Send the approved order to the supplier; refused while the supplier is blocked."""
    order = _locked_order(order)
    _require_campus_role(actor, order.campus, SENDING_ROLES)
    if order.status == OrderStatus.APPROVED:
        supplier_assert_can_trade(supplier=order.supplier, on=max(timezone.localdate(), order.delivery_day))
    return order_transition(order=order, to_status=OrderStatus.SENT, actor=actor)


@transaction.atomic
def order_confirm(*, actor: Any, order: PurchaseOrder, note: str = "") -> PurchaseOrder:
    order = _locked_order(order)
    _require_member(actor, order.supplier)
    return order_transition(order=order, to_status=OrderStatus.CONFIRMED, actor=actor, note=note)


@transaction.atomic
def order_cancel(*, actor: Any, order: PurchaseOrder, reason: str) -> PurchaseOrder:
    """The campus may cancel until goods arrive; the supplier may decline an order it was sent."""
    order = _locked_order(order)
    if getattr(actor, "role", "") == Role.SUPPLIER_USER:
        _require_member(actor, order.supplier)
        if order.status != OrderStatus.SENT:
            raise InvalidTransition(
                "供应商只能拒绝待确认的订单", "A supplier can only decline an order awaiting confirmation"
            )
    else:
        _require_campus_role(actor, order.campus, ORDERING_ROLES | APPROVING_ROLES)
    if not reason.strip():
        raise ValidationFailed("请填写取消原因", "A reason is required")
    if order.deliveries.exclude(status=DeliveryStatus.REJECTED).exists():
        raise InvalidTransition(
            "已有送货的订单不能取消，请关闭", "An order with deliveries cannot be cancelled; close it"
        )
    return order_transition(order=order, to_status=OrderStatus.CANCELLED, actor=actor, note=reason)


@transaction.atomic
def order_close(*, actor: Any, order: PurchaseOrder, note: str = "") -> PurchaseOrder:
    order = _locked_order(order)
    _require_campus_role(actor, order.campus, ORDERING_ROLES)
    if order.deliveries.filter(status__in=[DeliveryStatus.DISPATCHED, DeliveryStatus.ARRIVED]).exists():
        raise InvalidTransition("仍有未验收的送货", "A delivery is still awaiting acceptance")
    return order_transition(order=order, to_status=OrderStatus.CLOSED, actor=actor, note=note)


# ---------------------------------------------------------------- deliveries and batches


def delivery_transition(*, delivery: Delivery, to_status: str, actor: Any, note: str = "") -> Delivery:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("delivery_transition must run inside a transaction")
    if to_status not in DELIVERY_MOVES.get(delivery.status, frozenset()):
        raise InvalidTransition(
            details={
                "from": delivery.status,
                "to": to_status,
                "allowed": sorted(DELIVERY_MOVES.get(delivery.status, ())),
            }
        )
    from_status = delivery.status
    delivery.status = to_status
    delivery.save(update_fields=["status", "updated_at"])
    DeliveryStatusChange.objects.create(
        delivery=delivery,
        from_status=from_status,
        to_status=to_status,
        actor=_user_or_none(actor),
        actor_label=_label(actor),
        note=note[:200],
    )
    audit_record(
        actor=actor,
        action=f"procurement.delivery_{to_status}",
        target=delivery,
        before={"status": from_status},
        after={"status": to_status, "note": note},
        district_id=delivery.district_id,
        school_id=delivery.campus.school_id,
    )
    return delivery


def _save_qc_report(batch: Batch, upload: Any) -> None:
    checked = upload_check(upload=upload)
    batch.qc_report.save(f"{uuid.uuid4().hex}.{checked.extension}", ContentFile(checked.content), save=False)
    batch.qc_report_content_type = checked.content_type
    batch.qc_report_sha256 = checked.sha256


def _quick_tests(raw: Any) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or not all(isinstance(t, dict) and t.get("test") for t in raw):
        raise ValidationFailed("快检结果格式有误", "Quick test results are malformed")
    return [
        {
            "test": str(t["test"])[:40],
            "value": str(t.get("value", ""))[:20],
            "unit": str(t.get("unit", ""))[:10],
            "passed": bool(t.get("passed", True)),
        }
        for t in raw
    ]


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ValidationFailed("日期格式有误", "Not a valid date", details={field: str(value)}) from None


def _require_trace_data(
    lines: list[dict[str, Any]], order_lines: dict[str, PurchaseOrderLine], *, qc_reports_follow: bool
) -> None:
    """Every batch leaves with its batch number, producer and QC report: refused here, where the
    supplier can still add them, not at the store room's door (before any file is stored). The
    API's JSON dispatch carries no file (`qc_reports_follow`): its reports are uploaded per batch
    next, and acceptance still refuses a batch without one, in words."""
    missing_by_line: list[dict[str, Any]] = []
    for raw in lines:
        key = raw.get("order_line")
        order_line = order_lines.get(str(getattr(key, "pk", key)))
        missing = [
            name
            for name, value in (
                ("batch_number", str(raw.get("batch_number") or "").strip()),
                ("producer", str(raw.get("producer") or "").strip()),
                ("qc_report", raw.get("qc_report") or qc_reports_follow),
            )
            if not value
        ]
        if missing and order_line is not None:
            missing_by_line.append({"item": order_line.item.name, "missing": missing})
    if missing_by_line:
        raise TraceDataMissingAtDispatch(details={"lines": missing_by_line})


@transaction.atomic
def delivery_dispatch(
    *,
    actor: Any,
    order: PurchaseOrder,
    lines: Iterable[dict[str, Any]],
    vehicle_plate: str = "",
    driver_name: str = "",
    driver_phone: str = "",
    qc_reports_follow: bool = False,
) -> Delivery:
    """The supplier records a delivery with one batch per line:
    {"order_line": line or id, "quantity", "batch_number", "producer", "production_date",
     "shelf_life_days"?, "producer_licence"?, "origin"?, "quick_tests"?, "qc_report"? (upload)}."""
    order = _locked_order(order)
    _require_member(actor, order.supplier)
    if order.status not in (OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_DELIVERED):
        raise InvalidTransition(
            "订单须经供应商确认后才能送货",
            "The order must be confirmed before delivering",
            details={"status": order.status},
        )
    today = timezone.localdate()
    supplier_assert_can_trade(supplier=order.supplier, on=today)
    order_lines = {str(line.pk): line for line in order.lines.select_related("item")}
    lines = list(lines)
    _require_trace_data(lines, order_lines, qc_reports_follow=qc_reports_follow)
    delivery = Delivery.objects.create(
        number=_number("DL", today),
        order=order,
        district_id=order.district_id,
        campus=order.campus,
        supplier=order.supplier,
        vehicle_plate=vehicle_plate[:16],
        driver_name=driver_name[:40],
        driver_phone=driver_phone[:20],
        created_by=_user_or_none(actor),
    )
    count = 0
    for raw in lines:
        key = raw.get("order_line")
        order_line = order_lines.get(str(getattr(key, "pk", key)))
        if order_line is None:
            raise ValidationFailed(
                "送货行不属于该订单", "A delivery line is not on this order", details={"order_line": str(key)}
            )
        qty = _quantity(raw.get("quantity"))
        pending = (
            Batch.objects.filter(delivery_line__order_line=order_line, status=BatchStatus.PENDING).aggregate(
                q=Sum("quantity")
            )["q"]
            or 0
        )
        remaining = order_line.quantity - order_line.accepted_quantity - pending
        if qty > remaining:
            raise ValidationFailed(
                "送货数量超过订单剩余数量",
                "The quantity exceeds what remains on the order",
                details={"item": order_line.item.name, "remaining": str(remaining)},
            )
        production_date = _date(raw.get("production_date"), "production_date")
        if production_date > today:
            raise ValidationFailed("生产日期不能晚于今天", "The production date cannot be in the future")
        shelf = raw.get("shelf_life_days", order_line.item.shelf_life_days)
        shelf = int(shelf) if shelf not in (None, "") else None
        if shelf is not None and shelf <= 0:
            raise ValidationFailed("保质期须为正数", "The shelf life must be positive")
        expires_on = production_date + timedelta(days=shelf) if shelf else None
        line = DeliveryLine.objects.create(
            delivery=delivery,
            order_line=order_line,
            item=order_line.item,
            quantity=qty,
            unit=order_line.unit,
            price_fen=order_line.price_fen,
        )
        batch = Batch(
            delivery_line=line,
            district_id=order.district_id,
            campus=order.campus,
            supplier=order.supplier,
            item=order_line.item,
            batch_number=str(raw.get("batch_number") or "").strip()[:60],
            producer=str(raw.get("producer") or "").strip()[:120],
            producer_licence=str(raw.get("producer_licence") or "")[:60],
            origin=str(raw.get("origin") or "")[:120],
            production_date=production_date,
            shelf_life_days=shelf,
            expires_on=expires_on,
            quantity=qty,
            unit=order_line.unit,
            quick_tests=_quick_tests(raw.get("quick_tests")),
        )
        if raw.get("qc_report") is not None:
            _save_qc_report(batch, raw["qc_report"])
        batch.save()
        count += 1
    if count == 0:
        raise ValidationFailed("送货至少需要一行", "A delivery needs at least one line")
    DeliveryStatusChange.objects.create(
        delivery=delivery,
        from_status="",
        to_status=DeliveryStatus.DISPATCHED,
        actor=_user_or_none(actor),
        actor_label=_label(actor),
    )
    audit_record(
        actor=actor,
        action="procurement.delivery_dispatched",
        target=delivery,
        after={"order": order.number, "lines": count},
        district_id=order.district_id,
        school_id=order.campus.school_id,
    )
    return delivery


@transaction.atomic
def batch_attach_qc_report(*, actor: Any, batch: Batch, upload: Any) -> Batch:
    batch = Batch.objects.select_for_update().select_related("supplier").get(pk=batch.pk)
    _require_member(actor, batch.supplier)
    if batch.status != BatchStatus.PENDING:
        raise InvalidTransition("已验收的批次不能更换检验报告", "The QC report of a checked batch cannot change")
    _save_qc_report(batch, upload)
    batch.save(update_fields=["qc_report", "qc_report_content_type", "qc_report_sha256", "updated_at"])
    audit_record(
        actor=actor,
        action="procurement.qc_report_attached",
        target=batch,
        after={"sha256": batch.qc_report_sha256},
        district_id=batch.district_id,
    )
    return batch


def _locked_delivery(delivery: Delivery) -> Delivery:
    return (
        Delivery.objects.select_for_update()
        .select_related("campus", "campus__school", "supplier", "order")
        .get(pk=delivery.pk)
    )


@transaction.atomic
def delivery_arrive(*, actor: Any, delivery: Delivery, temperature_c: Decimal | str | None = None) -> Delivery:
    delivery = _locked_delivery(delivery)
    _require_campus_role(actor, delivery.campus, STORE_ROLES)
    if temperature_c not in (None, ""):
        delivery.arrival_temperature_c = _temperature(temperature_c)
    delivery.arrived_at = timezone.now()
    delivery.save(update_fields=["arrival_temperature_c", "arrived_at", "updated_at"])
    return delivery_transition(delivery=delivery, to_status=DeliveryStatus.ARRIVED, actor=actor)


def _temperature(value: Any) -> Decimal:
    try:
        t = Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("温度格式有误", "Not a valid temperature") from None
    if not Decimal("-60") <= t <= Decimal("80"):
        raise ValidationFailed("温度超出范围", "Temperature out of range")
    return t


@dataclass(frozen=True)
class LineDecision:
    line: DeliveryLine | str
    result: str
    accepted_quantity: Decimal | str | None = None
    reason: str = ""
    temperature_c: Decimal | str | None = None
    quick_tests: list[dict[str, Any]] | None = None


def _decision(raw: LineDecision | dict[str, Any]) -> LineDecision:
    return raw if isinstance(raw, LineDecision) else LineDecision(**raw)


def _acceptance_problems(batch: Batch, item: Item, on: date) -> list[str]:
    problems = []
    if batch.expires_on is not None and batch.expires_on < on:
        problems.append("expired")
    if any(not t.get("passed", True) for t in batch.quick_tests):
        problems.append("quick_test_failed")
    limit = TEMPERATURE_LIMITS.get(item.storage)
    if limit is not None and batch.arrival_temperature_c is not None and batch.arrival_temperature_c > limit:
        problems.append("temperature")
    return problems


def coldchain_reject_minutes() -> int:
    """The rule: a break in transit longer than this can only be rejected; a shorter one (still
    longer than the tolerated excursion, which trace already leaves out) may be accepted with a
    reason and a photo."""
    return int(getattr(settings, "CANTEEN_PROCUREMENT_COLDCHAIN_REJECT_MINUTES", 30))


@transaction.atomic
def delivery_coldchain_flag(*, delivery_id: Any, minutes: int, worst_c: Decimal | None) -> Delivery | None:
    """Called by trace when a transport track of this delivery shows a cold-chain break: the
    delivery carries the longest break to its acceptance. Idempotent (keeps the worst)."""
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None or minutes <= delivery.coldchain_minutes:
        return delivery
    delivery.coldchain_minutes = minutes
    delivery.coldchain_worst_c = worst_c
    delivery.save(update_fields=["coldchain_minutes", "coldchain_worst_c", "updated_at"])
    return delivery


def _coldchain_check(delivery: Delivery, any_accepted: bool, reason: str, photo: Any) -> None:
    if not delivery.coldchain_minutes or not any_accepted:
        return
    details = {"minutes": delivery.coldchain_minutes, "worst_c": str(delivery.coldchain_worst_c)}
    if delivery.coldchain_minutes > coldchain_reject_minutes():
        raise ColdChainMustReject(details={**details, "limit_minutes": coldchain_reject_minutes()})
    if not reason.strip() or photo is None:
        raise ColdChainNeedsEvidence(details=details)
    checked = upload_check(upload=photo)
    if not checked.content_type.startswith("image/"):
        raise ColdChainNeedsEvidence(details={**details, "photo": "an image is required"})
    delivery.coldchain_reason = reason.strip()[:300]
    delivery.coldchain_photo.save(f"{uuid.uuid4().hex}.{checked.extension}", ContentFile(checked.content), save=False)
    delivery.save(update_fields=["coldchain_reason", "coldchain_photo", "updated_at"])


@transaction.atomic
def delivery_accept(
    *,
    actor: Any,
    delivery: Delivery,
    decisions: Iterable[LineDecision | dict[str, Any]],
    coldchain_reason: str = "",
    coldchain_photo: Any = None,
) -> Delivery:
    """进货查验: the storekeeper decides every line (accept, partial with a reason, reject with a
    reason). Accepted goods enter stock per batch; the incoming-inspection record is written; the
    order advances; events go to trace (codes) and supervision (cases, spend). A delivery that
    broke its cold chain on the way is accepted only with a reason and a photo, or rejected, as
    the rule says (coldchain_reject_minutes); either way procurement.coldchain_breach is
    published (the notification service tells the school and opens a case)."""
    delivery = _locked_delivery(delivery)
    _require_campus_role(actor, delivery.campus, STORE_ROLES)
    today = timezone.localdate()
    if delivery.status == DeliveryStatus.DISPATCHED:
        delivery.arrived_at = delivery.arrived_at or timezone.now()
        delivery.save(update_fields=["arrived_at", "updated_at"])
        delivery_transition(delivery=delivery, to_status=DeliveryStatus.ARRIVED, actor=actor)
    elif delivery.status != DeliveryStatus.ARRIVED:
        raise InvalidTransition(details={"from": delivery.status, "to": "accepted"})
    lines = {str(line.pk): line for line in delivery.lines.select_related("item", "order_line", "batch")}
    decided: dict[str, LineDecision] = {}
    for raw in decisions:
        d = _decision(raw)
        key = str(getattr(d.line, "pk", d.line))
        if key not in lines:
            raise ValidationFailed("验收行不属于该送货单", "A line is not on this delivery", details={"line": key})
        if key in decided:
            raise ValidationFailed("同一行只能验收一次", "A line can be decided once", details={"line": key})
        decided[key] = d
    missing = [lines[k].item.name for k in lines if k not in decided]
    if missing:
        raise ValidationFailed("每一行都须作出验收结论", "Every line needs a decision", details={"missing": missing})
    any_accepted = any(d.result != CheckResult.REJECT for d in decided.values())
    if any_accepted:
        # An expired supplier cannot deliver: nothing is received from it, only rejected.
        supplier_assert_can_trade(supplier=delivery.supplier, on=today)
    _coldchain_check(delivery, any_accepted, coldchain_reason, coldchain_photo)

    licences = [
        {"kind": lic.kind, "number": lic.number, "expires_on": str(lic.expires_on or "")}
        for lic in delivery.supplier.licences.all()
    ]
    accepted_fen = 0
    accepted_lines: list[dict[str, Any]] = []
    rejected_lines: list[dict[str, Any]] = []
    batch_events: list[dict[str, Any]] = []
    now = timezone.now()
    # Problems are collected over all lines so the storekeeper sees them at once; raising at the
    # end rolls back everything written in the loop.
    missing_by_line: list[dict[str, Any]] = []
    refused_by_line: list[dict[str, Any]] = []
    for key, line in lines.items():
        d = decided[key]
        batch = Batch.objects.select_for_update().get(pk=line.batch.pk)
        if d.result not in CheckResult.values:
            raise ValidationFailed("验收结论无效", "Unknown decision", details={"result": d.result})
        if d.temperature_c not in (None, ""):
            batch.arrival_temperature_c = _temperature(d.temperature_c)
        elif batch.arrival_temperature_c is None and delivery.arrival_temperature_c is not None:
            batch.arrival_temperature_c = delivery.arrival_temperature_c
        if d.quick_tests is not None:
            batch.quick_tests = _quick_tests(d.quick_tests)
        reason = (d.reason or "").strip()
        if d.result == CheckResult.ACCEPT:
            accepted = line.quantity
        elif d.result == CheckResult.PARTIAL:
            accepted = _quantity(d.accepted_quantity, field="accepted_quantity")
            if accepted >= line.quantity:
                raise ValidationFailed(
                    "部分接收的数量须小于送货数量",
                    "A partial acceptance must be less than delivered",
                    details={"line": key},
                )
        else:
            accepted = Decimal("0")
        if d.result != CheckResult.ACCEPT and not reason:
            raise ValidationFailed(
                "部分接收或拒收须填写原因", "Partial acceptance or rejection needs a reason", details={"line": key}
            )
        if accepted > 0:
            missing_trace = [
                name
                for name, value in (
                    ("batch_number", batch.batch_number),
                    ("producer", batch.producer),
                    ("qc_report", batch.qc_report.name if batch.qc_report else ""),
                )
                if not value
            ]
            if missing_trace:
                missing_by_line.append({"item": line.item.name, "missing": missing_trace})
            problems = _acceptance_problems(batch, line.item, today)
            if problems:
                refused_by_line.append({"item": line.item.name, "problems": problems})
        rejected = line.quantity - accepted
        batch.accepted_quantity = accepted
        batch.on_hand = accepted
        batch.status = {
            CheckResult.ACCEPT: BatchStatus.ACCEPTED,
            CheckResult.PARTIAL: BatchStatus.PARTIALLY_ACCEPTED,
            CheckResult.REJECT: BatchStatus.REJECTED,
        }[d.result]
        batch.accepted_at = now
        batch.save()
        AcceptanceCheck.objects.create(
            delivery_line=line,
            batch=batch,
            district_id=delivery.district_id,
            campus=delivery.campus,
            supplier=delivery.supplier,
            result=d.result,
            accepted_quantity=accepted,
            rejected_quantity=rejected,
            reason=reason[:200],
            checked_by=_user_or_none(actor),
            checked_by_label=_label(actor),
            checked_at=now,
            record={
                "item": line.item.name,
                "spec": line.item.spec,
                "category": line.item.category,
                "quantity": str(line.quantity),
                "unit": line.unit,
                "batch_number": batch.batch_number,
                "producer": batch.producer,
                "producer_licence": batch.producer_licence,
                "production_date": str(batch.production_date),
                "shelf_life_days": batch.shelf_life_days,
                "expires_on": str(batch.expires_on or ""),
                "purchase_date": str(delivery.order.delivery_day),
                "received_on": str(today),
                "supplier": delivery.supplier.name,
                "supplier_uscc": delivery.supplier.uscc,
                "supplier_contact": delivery.supplier.contact_phone,
                "licences": licences,
                "quick_tests": batch.quick_tests,
                "temperature_c": str(batch.arrival_temperature_c) if batch.arrival_temperature_c is not None else "",
                "qc_report_sha256": batch.qc_report_sha256,
            },
            retain_until=retention_until(expires_on=batch.expires_on, checked_on=today),
        )
        line_summary = {
            "line_id": str(line.pk),
            "batch_id": str(batch.pk),
            "item_id": str(line.item_id),
            "item": line.item.name,
            "quantity": str(line.quantity),
            "accepted_quantity": str(accepted),
            "unit": line.unit,
            "result": d.result,
            "reason": reason,
        }
        if accepted > 0:
            StockMovement.objects.create(
                batch=batch,
                district_id=delivery.district_id,
                campus=delivery.campus,
                item=line.item,
                kind=MovementKind.RECEIPT,
                quantity=accepted,
                day=today,
                reference=delivery.number,
                actor=_user_or_none(actor),
                at=now,
            )
            PurchaseOrderLine.objects.filter(pk=line.order_line_id).update(
                accepted_quantity=F("accepted_quantity") + accepted,
                delivered_quantity=F("delivered_quantity") + line.quantity,
            )
            accepted_fen += _amount_fen(accepted, line.price_fen)
            accepted_lines.append(line_summary)
            batch_events.append(
                {
                    "batch_id": str(batch.pk),
                    "delivery_id": str(delivery.pk),
                    "campus_id": str(delivery.campus_id),
                    "school_id": str(delivery.campus.school_id),
                    "district_id": str(delivery.district_id),
                    "supplier_id": str(delivery.supplier_id),
                    "item_id": str(line.item_id),
                    "item": line.item.name,
                    "batch_number": batch.batch_number,
                    "accepted_quantity": str(accepted),
                    "unit": line.unit,
                    "production_date": str(batch.production_date),
                    "expires_on": str(batch.expires_on or ""),
                    "on": str(today),
                }
            )
        if d.result != CheckResult.ACCEPT:
            rejected_lines.append({**line_summary, "rejected_quantity": str(rejected)})

    if missing_by_line:
        raise TraceDataMissing(details={"lines": missing_by_line, **missing_by_line[0]})
    if refused_by_line:
        raise AcceptanceRefused(details={"lines": refused_by_line, **refused_by_line[0]})

    results = {d.result for d in decided.values()}
    to_status = (
        DeliveryStatus.ACCEPTED
        if results == {CheckResult.ACCEPT}
        else DeliveryStatus.REJECTED
        if results == {CheckResult.REJECT}
        else DeliveryStatus.PARTIALLY_ACCEPTED
    )
    delivery.accepted_at = now
    delivery.accepted_by = _user_or_none(actor)
    delivery.accepted_fen = accepted_fen
    delivery.save(update_fields=["accepted_at", "accepted_by", "accepted_fen", "updated_at"])
    delivery_transition(delivery=delivery, to_status=to_status, actor=actor)
    if accepted_fen > 0:
        # The food cost is booked now, at the accepted quantity and price, in this transaction
        # (issue 22): the invoice later only matches it.
        food_cost.goods_received_record(
            delivery_id=delivery.pk,
            supplier_id=delivery.supplier_id,
            supplier_name=delivery.supplier.name,
            campus=delivery.campus_id,
            amount=Money(accepted_fen),
            on=today,
            reference=delivery.number,
            actor=actor,
        )
    _advance_order(delivery.order, actor)

    payload = {
        "delivery_id": str(delivery.pk),
        "delivery_number": delivery.number,
        "order_id": str(delivery.order_id),
        "campus_id": str(delivery.campus_id),
        "school_id": str(delivery.campus.school_id),
        "district_id": str(delivery.district_id),
        "supplier_id": str(delivery.supplier_id),
        "supplier_name": delivery.supplier.name,
        "status": to_status,
        "lines": accepted_lines,
        "batch_ids": [event["batch_id"] for event in batch_events],
        "accepted_fen": accepted_fen,
        "rejected_lines": rejected_lines,
        "on": str(today),
    }
    for event in batch_events:
        publish("procurement.batch_accepted", event)
    if delivery.coldchain_minutes:
        publish(
            "procurement.coldchain_breach",
            {
                "delivery_id": str(delivery.pk),
                "campus_id": str(delivery.campus_id),
                "school_id": str(delivery.campus.school_id),
                "district_id": str(delivery.district_id),
                "supplier_id": str(delivery.supplier_id),
                "max_c": str(delivery.coldchain_worst_c) if delivery.coldchain_worst_c is not None else None,
                "minutes_out_of_range": delivery.coldchain_minutes,
                "decision": to_status,
                "reason": delivery.coldchain_reason,
            },
        )
    publish(
        "procurement.delivery_rejected" if to_status == DeliveryStatus.REJECTED else "procurement.delivery_accepted",
        payload,
    )
    return delivery


def _advance_order(order: PurchaseOrder, actor: Any) -> None:
    order = PurchaseOrder.objects.select_for_update().select_related("campus").get(pk=order.pk)
    outstanding = order.lines.filter(accepted_quantity__lt=F("quantity")).exists()
    received_any = order.lines.filter(accepted_quantity__gt=0).exists()
    if not received_any:
        return
    target = OrderStatus.PARTIALLY_DELIVERED if outstanding else OrderStatus.DELIVERED
    if order.status != target:
        order_transition(order=order, to_status=target, actor=actor)


@transaction.atomic
def delivery_refuse(*, actor: Any, delivery: Delivery, reason: str) -> Delivery:
    """Turn a whole delivery away at the gate (e.g. an expired supplier, a warm truck): every
    line rejected with the same reason, the inspection record kept."""
    delivery = _locked_delivery(delivery)
    if not reason.strip():
        raise ValidationFailed("请填写拒收原因", "A reason is required")
    decisions = [LineDecision(line=line, result=CheckResult.REJECT, reason=reason) for line in delivery.lines.all()]
    return delivery_accept(actor=actor, delivery=delivery, decisions=decisions)


# ---------------------------------------------------------------- invoices and payments (ledger)


def _ledger_service(name: str) -> Any:
    try:
        module = importlib.import_module("canteen.ledger.services")
    except ModuleNotFoundError:
        return None
    return getattr(module, name, None)


def _returned_fen(delivery: Delivery) -> int:
    return sum(
        _amount_fen(-m.quantity, m.batch.delivery_line.price_fen)
        for m in StockMovement.objects.filter(batch__delivery_line__delivery=delivery, kind=MovementKind.RETURN)
        .select_related("batch__delivery_line")
        .order_by("id")
    )


def three_way_match(*, delivery: Delivery, invoice_fen: int | None) -> dict[str, Any]:
    """Order, receipt and invoice side by side, per line and in total, with every difference
    listed: a line short or over against the order, a delivery price that is not the order's,
    goods returned, an invoice that is not the receipt's value net of returns."""
    lines = []
    differences: list[dict[str, Any]] = []
    order_fen = received_fen = 0
    for line in delivery.lines.select_related("order_line", "item", "batch"):
        batch = getattr(line, "batch", None)
        accepted = batch.accepted_quantity if batch is not None else Decimal("0")
        ordered = line.order_line.quantity
        row = {
            "item": line.item.name,
            "ordered": str(ordered),
            "order_price_fen": line.order_line.price_fen,
            "delivered": str(line.quantity),
            "accepted": str(accepted),
            "price_fen": line.price_fen,
            "received_fen": _amount_fen(accepted, line.price_fen),
        }
        lines.append(row)
        order_fen += _amount_fen(ordered, line.order_line.price_fen)
        received_fen += row["received_fen"]
        if line.price_fen != line.order_line.price_fen:
            differences.append(
                {
                    "kind": "price",
                    "item": line.item.name,
                    "order_fen": line.order_line.price_fen,
                    "delivery_fen": line.price_fen,
                }
            )
        if accepted != ordered:
            differences.append(
                {"kind": "quantity", "item": line.item.name, "ordered": str(ordered), "accepted": str(accepted)}
            )
    returned_fen = _returned_fen(delivery)
    if returned_fen:
        differences.append({"kind": "returned", "amount_fen": returned_fen})
    if invoice_fen is not None and invoice_fen != received_fen - returned_fen:
        differences.append(
            {"kind": "invoice", "invoice_fen": invoice_fen, "received_fen": received_fen - returned_fen,
             "difference_fen": invoice_fen - (received_fen - returned_fen)}
        )  # fmt: skip
    return {
        "order_fen": order_fen,
        "received_fen": received_fen,
        "returned_fen": returned_fen,
        "invoice_fen": invoice_fen,
        "lines": lines,
        "differences": differences,
    }


@transaction.atomic
def delivery_record_invoice(*, actor: Any, delivery: Delivery, reference: str, amount: Money | None = None) -> Delivery:
    """Record the supplier's invoice for an accepted delivery (once) and match it three ways
    against the order and the receipt; the differences are kept on the delivery. The cost was
    booked at acceptance, so nothing is posted, except for a delivery accepted before that rule,
    whose invoice books its cost as it used to (idempotency key: the delivery)."""
    delivery = _locked_delivery(delivery)
    _require_campus_role(actor, delivery.campus, ORDERING_ROLES | STORE_ROLES)
    if delivery.status not in (DeliveryStatus.ACCEPTED, DeliveryStatus.PARTIALLY_ACCEPTED):
        raise InvalidTransition("只有已验收的送货可以登记发票", "Only accepted deliveries can be invoiced")
    if not reference.strip():
        raise ValidationFailed("请填写发票号", "The invoice number is required")
    if amount is not None and (not isinstance(amount, Money) or amount.fen <= 0):
        raise ValidationFailed("发票金额须大于零", "The invoice amount must be positive")
    if delivery.invoice_reference:
        return delivery
    invoice_fen = amount.fen if amount is not None else None
    match = three_way_match(delivery=delivery, invoice_fen=invoice_fen)
    if not food_cost.goods_received_posted(delivery_id=delivery.pk):
        record = _ledger_service("supplier_invoice_record")
        if record is None:
            raise Conflict("账务模块尚不可用", "The ledger is not available", code="ledger_unavailable")
        record(
            supplier_id=delivery.supplier_id,
            supplier_name=delivery.supplier.name,
            campus=delivery.campus,
            amount=Money(delivery.accepted_fen),
            reference=reference.strip(),
            idempotency_key=f"procurement:delivery:{delivery.pk}:invoice",
            actor=actor,
        )
    delivery.invoice_reference = reference.strip()[:60]
    delivery.invoice_amount_fen = invoice_fen
    delivery.invoice_match = match
    delivery.save(update_fields=["invoice_reference", "invoice_amount_fen", "invoice_match", "updated_at"])
    audit_record(
        actor=actor,
        action="procurement.invoice_recorded",
        target=delivery,
        after={
            "reference": delivery.invoice_reference,
            "amount_fen": invoice_fen,
            "received_fen": match["received_fen"],
            "differences": len(match["differences"]),
        },
        district_id=delivery.district_id,
        school_id=delivery.campus.school_id,
    )
    return delivery


@transaction.atomic
def batch_return(*, actor: Any, batch: Batch, quantity: Decimal | str, reason: str) -> StockMovement:
    """Send accepted goods back to the supplier (退货, e.g. found spoiled after acceptance): out of
    stock, and the cost and the payable come down at the batch's price."""
    batch = (
        Batch.objects.select_for_update()
        .select_related("campus", "supplier", "delivery_line__delivery")
        .get(pk=batch.pk)
    )
    _require_campus_role(actor, batch.campus, STORE_ROLES | {Role.CANTEEN_MANAGER})
    qty = _quantity(quantity)
    if not reason.strip():
        raise ValidationFailed("请填写退货原因", "A reason is required")
    if qty > batch.on_hand:
        raise InsufficientStock(
            details={"item": str(batch.item_id), "requested": str(qty), "available": str(batch.on_hand)}
        )
    today = timezone.localdate()
    batch.on_hand -= qty
    batch.save(update_fields=["on_hand", "updated_at"])
    movement = _stock_movement(
        batch, kind=MovementKind.RETURN, quantity=-qty, day=today, actor=actor, note=reason[:200],
        reference=_number("RT", today),
    )  # fmt: skip
    line = batch.delivery_line
    fen = _amount_fen(qty, line.price_fen)
    if fen > 0:
        food_cost.goods_returned_record(
            return_ref=f"{movement.reference}:{movement.pk}",
            delivery_id=line.delivery_id,
            supplier_id=batch.supplier_id,
            supplier_name=batch.supplier.name,
            campus=batch.campus_id,
            amount=Money(fen),
            on=today,
            actor=actor,
        )
    audit_record(
        actor=actor,
        action="procurement.goods_returned",
        target=batch,
        after={"quantity": str(qty), "amount_fen": fen, "reason": reason[:200]},
        district_id=batch.district_id,
        school_id=batch.campus.school_id,
    )
    publish(
        "procurement.goods_returned",
        {
            "batch_id": str(batch.pk),
            "delivery_id": str(line.delivery_id),
            "campus_id": str(batch.campus_id),
            "supplier_id": str(batch.supplier_id),
            "quantity": str(qty),
            "amount_fen": fen,
            "on": today.isoformat(),
        },
    )
    return movement


@transaction.atomic
def supplier_pay(
    *, actor: Any, supplier: Supplier, campus: Campus, amount: Money, reference: str, idempotency_key: str
) -> Any:
    """Pay a supplier through the ledger (the ledger owns the money; this only checks the scope)."""
    _require_campus_role(actor, campus, {Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER})
    if not isinstance(amount, Money) or amount.fen <= 0:
        raise ValidationFailed("金额须大于零", "The amount must be positive")
    pay = _ledger_service("supplier_payment")
    if pay is None:
        raise Conflict("账务模块尚不可用", "The ledger is not available", code="ledger_unavailable")
    return pay(
        supplier_id=supplier.pk,
        supplier_name=supplier.name,
        campus=campus,
        amount=amount,
        reference=reference,
        idempotency_key=idempotency_key,
        actor=actor,
    )


# ---------------------------------------------------------------- stock


def _stock_movement(
    batch: Batch, *, kind: str, quantity: Decimal, day: date, actor: Any, **extra: Any
) -> StockMovement:
    return StockMovement.objects.create(
        batch=batch,
        district_id=batch.district_id,
        campus_id=batch.campus_id,
        item_id=batch.item_id,
        kind=kind,
        quantity=quantity,
        day=day,
        actor=_user_or_none(actor),
        **extra,
    )


@transaction.atomic
def stock_issue(
    *,
    actor: Any,
    campus: Campus,
    item: Item,
    quantity: Decimal | str,
    day: date,
    meal_kind: str,
    dish_id: uuid.UUID | str | None = None,
    dish_name: str = "",
    note: str = "",
) -> list[StockMovement]:
    """Issue goods to the kitchen, first-expiring first (FEFO). Batches already past their expiry
    on `day` are never issued; if what is left does not cover the request, nothing is issued."""
    _require_campus_role(actor, campus, STORE_ROLES)
    qty = _quantity(quantity)
    if meal_kind not in MealKind.values:
        raise ValidationFailed("餐次无效", "Unknown meal", details={"meal_kind": meal_kind})
    # Lock the candidate batches in a fixed order so concurrent issues queue instead of both
    # taking the same goods.
    batches = list(
        Batch.objects.select_for_update()
        .filter(campus=campus, item=item, on_hand__gt=0)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=day))
        .order_by(F("expires_on").asc(nulls_last=True), "production_date", "created_at", "id")
    )
    # A batch under recall stays in store, locked like the rest, and is never issued.
    held = [b for b in batches if b.quarantined_at is not None]
    batches = [b for b in batches if b.quarantined_at is None]
    available = sum((b.on_hand for b in batches), Decimal("0"))
    if available < qty:
        details = {"item": item.name, "requested": str(qty), "available": str(available)}
        if held:
            raise BatchQuarantined(
                details={
                    **details,
                    "quarantined": [{"batch": b.batch_number, "reason": b.quarantine_reason} for b in held],
                }
            )
        raise InsufficientStock(details=details)
    reference = _number("IS", day)
    movements = []
    left = qty
    for batch in batches:
        if left <= 0:
            break
        take = min(batch.on_hand, left)
        batch.on_hand -= take
        batch.save(update_fields=["on_hand", "updated_at"])
        movements.append(
            _stock_movement(
                batch,
                kind=MovementKind.ISSUE,
                quantity=-take,
                day=day,
                actor=actor,
                meal_kind=meal_kind,
                dish_id=dish_id or None,
                dish_name=dish_name[:80],
                reference=reference,
                note=note[:200],
            )
        )
        left -= take
    audit_record(
        actor=actor,
        action="procurement.stock_issued",
        target_type="procurement.stockmovement",
        target_id=reference,
        target_label=f"{item.name} {qty}{item.unit} {day} {meal_kind}",
        after={"batches": [str(m.batch_id) for m in movements], "quantity": str(qty)},
        district_id=campus.school.district_id,
        school_id=campus.school_id,
    )
    return movements


@transaction.atomic
def stock_issue_many(
    *, actor: Any, campus: Campus, day: date, meal_kind: str, lines: Iterable[dict[str, Any]]
) -> list[StockMovement]:
    """Issue a whole meal's goods at once (e.g. from the day's recipes): lines are
    {"item", "quantity", "dish_id"?, "dish_name"?}. All or nothing: when any item is short, nothing
    is issued and the error lists every shortage."""
    movements: list[StockMovement] = []
    shortages: list[dict[str, Any]] = []
    for raw in lines:
        try:
            with transaction.atomic():
                movements += stock_issue(
                    actor=actor,
                    campus=campus,
                    item=raw["item"],
                    quantity=raw["quantity"],
                    day=day,
                    meal_kind=meal_kind,
                    dish_id=raw.get("dish_id"),
                    dish_name=raw.get("dish_name", ""),
                )
        except InsufficientStock as exc:
            shortages.append(exc.details)
    if shortages:
        # Raising here rolls back the issues that did succeed: the kitchen gets all or nothing.
        raise InsufficientStock(details={"shortages": shortages})
    return movements


@transaction.atomic
def stock_dispose(*, actor: Any, batch: Batch, quantity: Decimal | str, reason: str) -> StockMovement:
    """Write off spoiled or expired goods (报损)."""
    batch = Batch.objects.select_for_update().select_related("campus").get(pk=batch.pk)
    _require_campus_role(actor, batch.campus, STORE_ROLES)
    qty = _quantity(quantity)
    if not reason.strip():
        raise ValidationFailed("请填写报损原因", "A reason is required")
    if qty > batch.on_hand:
        raise InsufficientStock(details={"available": str(batch.on_hand)})
    batch.on_hand -= qty
    batch.save(update_fields=["on_hand", "updated_at"])
    movement = _stock_movement(
        batch, kind=MovementKind.DISPOSAL, quantity=-qty, day=timezone.localdate(), actor=actor, note=reason[:200]
    )
    audit_record(
        actor=actor,
        action="procurement.stock_disposed",
        target=batch,
        after={"quantity": str(qty), "reason": reason},
        district_id=batch.district_id,
        school_id=batch.campus.school_id,
    )
    return movement


@transaction.atomic
def stock_count_start(*, actor: Any, campus: Campus, counted_on: date | None = None, note: str = "") -> StockCount:
    _require_campus_role(actor, campus, STORE_ROLES)
    if StockCount.objects.filter(campus=campus, status=CountStatus.OPEN).exists():
        raise Conflict("已有进行中的盘点", "A stock count is already open", code="count_open")
    count = StockCount.objects.create(
        campus=campus,
        district_id=campus.school.district_id,
        counted_on=counted_on or timezone.localdate(),
        started_by=_user_or_none(actor),
        note=note,
    )
    StockCountLine.objects.bulk_create(
        StockCountLine(count=count, batch=b, expected_quantity=b.on_hand)
        for b in Batch.objects.filter(campus=campus, on_hand__gt=0)
    )
    audit_record(
        actor=actor,
        action="procurement.count_started",
        target=count,
        district_id=count.district_id,
        school_id=campus.school_id,
    )
    return count


@transaction.atomic
def stock_count_record(
    *, actor: Any, count: StockCount, batch: Batch, counted_quantity: Decimal | str, reason: str = ""
) -> StockCountLine:
    count = StockCount.objects.select_for_update().select_related("campus").get(pk=count.pk)
    _require_campus_role(actor, count.campus, STORE_ROLES)
    if count.status != CountStatus.OPEN:
        raise InvalidTransition("盘点已结束", "The stock count is closed")
    if batch.campus_id != count.campus_id:
        raise ValidationFailed("批次不属于该校区", "The batch is not in this store")
    qty = _quantity(counted_quantity, field="counted_quantity", allow_zero=True)
    line, _ = StockCountLine.objects.get_or_create(
        count=count, batch=batch, defaults={"expected_quantity": batch.on_hand}
    )
    line.counted_quantity = qty
    line.reason = reason[:200]
    line.save(update_fields=["counted_quantity", "reason", "updated_at"])
    return line


@transaction.atomic
def stock_count_close(*, actor: Any, count: StockCount) -> list[StockMovement]:
    """Close the count: each counted batch whose count differs from what is on hand now gets an
    adjustment movement. A discrepancy needs a reason."""
    count = StockCount.objects.select_for_update().select_related("campus").get(pk=count.pk)
    _require_campus_role(actor, count.campus, STORE_ROLES)
    if count.status != CountStatus.OPEN:
        raise InvalidTransition("盘点已结束", "The stock count is closed")
    lines = list(count.lines.select_related("batch").filter(counted_quantity__isnull=False))
    unexplained = [str(line.batch) for line in lines if line.discrepancy and not line.reason]
    if unexplained:
        raise ValidationFailed(
            "盘点差异须填写原因", "Each discrepancy needs a reason", details={"batches": unexplained}
        )
    movements = []
    for line in lines:
        batch = Batch.objects.select_for_update().get(pk=line.batch_id)
        delta = line.counted_quantity - batch.on_hand
        if delta == 0:
            continue
        batch.on_hand = line.counted_quantity
        batch.save(update_fields=["on_hand", "updated_at"])
        movements.append(
            _stock_movement(
                batch,
                kind=MovementKind.ADJUSTMENT,
                quantity=delta,
                day=count.counted_on,
                actor=actor,
                count=count,
                note=line.reason,
            )
        )
    count.status = CountStatus.CLOSED
    count.closed_by = _user_or_none(actor)
    count.closed_at = timezone.now()
    count.save(update_fields=["status", "closed_by", "closed_at", "updated_at"])
    audit_record(
        actor=actor,
        action="procurement.count_closed",
        target=count,
        after={"adjustments": len(movements)},
        district_id=count.district_id,
        school_id=count.campus.school_id,
    )
    return movements


# ---------------------------------------------------------------- licence alerts (periodic)


@transaction.atomic
def licence_alerts_raise(*, on: date | None = None) -> dict[str, int]:
    """Publish procurement.licence_expiring / licence_expired once per licence and state; a
    renewed licence (new row) starts afresh. Idempotent: re-running raises nothing new."""
    on = on or timezone.localdate()
    soon = on + timedelta(days=EXPIRING_WITHIN_DAYS)
    raised = {"expiring": 0, "expired": 0}
    candidates = (
        Licence.objects.select_for_update(of=("self",))
        .select_related("supplier")
        .filter(expires_on__isnull=False, expires_on__lte=soon)
        .exclude(alert_state="expired")
        .order_by("expires_on")
    )
    for lic in candidates:
        state = "expired" if lic.expires_on < on else "expiring"
        if lic.alert_state == state:
            continue
        lic.alert_state = state
        lic.save(update_fields=["alert_state", "updated_at"])
        publish(
            f"procurement.licence_{state}",
            {
                "licence_id": str(lic.pk),
                "supplier_id": str(lic.supplier_id),
                "supplier_name": lic.supplier.name,
                "district_id": str(lic.supplier.district_id),
                "kind": lic.kind,
                "number": lic.number,
                "expires_on": str(lic.expires_on),
                "required": lic.required,
                "on": str(on),
            },
        )
        raised[state] += 1
    return raised


__all__ = [
    "DELIVERY_MOVES",
    "ORDER_MOVES",
    "LineDecision",
    "batch_attach_qc_report",
    "delivery_accept",
    "delivery_arrive",
    "delivery_coldchain_flag",
    "delivery_dispatch",
    "delivery_record_invoice",
    "delivery_refuse",
    "delivery_transition",
    "framework_price_set",
    "item_create",
    "licence_add",
    "licence_alerts_raise",
    "order_approve",
    "order_cancel",
    "order_close",
    "order_confirm",
    "order_create",
    "order_replace_lines",
    "order_return",
    "order_send",
    "order_submit",
    "order_transition",
    "price_on",
    "stock_count_close",
    "stock_count_record",
    "stock_count_start",
    "stock_dispose",
    "stock_issue",
    "stock_issue_many",
    "supplier_assert_can_trade",
    "supplier_create",
    "supplier_member_add",
    "supplier_pay",
    "supplier_set_approval",
    "supplier_standing",
    "upload_check",
]
