"""Procurement (集采集配): suppliers and their licences, the district catalogue with versioned
framework prices, campus purchase orders, deliveries with batches, incoming-goods checks
(进货查验) and per-batch stock.

Org scope is denormalised (`district` on orders, deliveries, batches, movements) so that every
large table can be partitioned by district and by date without joins."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from canteen.core.models import AppendOnlyQuerySet, BaseModel
from canteen.org.models import Campus, Canteen, District

from .choices import (
    AlertState,
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

QTY = {"max_digits": 12, "decimal_places": 3}
USER = settings.AUTH_USER_MODEL

# Scope lookups for rows that carry campus + district + supplier.
_CAMPUS_SUPPLIER_SCOPE = {
    "city": "district__city_id",
    "district": "district_id",
    "school": "campus__school_id",
    "campus": "campus_id",
    "supplier": "supplier__members__user_id",
}


class Supplier(BaseModel):
    """A food supplier approved (or not yet) by a district's education bureau."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="suppliers")
    name = models.CharField(max_length=120)
    # 统一社会信用代码: 18 characters, checked in services.
    uscc = models.CharField("统一社会信用代码 USCC", max_length=18, unique=True)
    contact_name = models.CharField(max_length=40, blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    address = models.CharField(max_length=200, blank=True)
    district_approved = models.BooleanField(default=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        # Schools and campuses see the suppliers of their own district (to order from them).
        "school": "district__schools__id",
        "campus": "district__schools__campuses__id",
        "supplier": "members__user_id",
    }

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SupplierMember(BaseModel):
    """Links a supplier_user account to the supplier it works for (the supplier scope)."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="supplier_membership")
    title = models.CharField(max_length=40, blank=True)

    scope_lookups = {
        "city": "supplier__district__city_id",
        "district": "supplier__district_id",
        "supplier": "supplier__members__user_id",
    }

    def __str__(self) -> str:
        return f"{self.user} @ {self.supplier}"


class Licence(BaseModel):
    """A licence or certificate of a supplier. A required one past its expiry date blocks the
    supplier from receiving orders and delivering."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="licences")
    kind = models.CharField(max_length=24, choices=LicenceKind.choices)
    number = models.CharField(max_length=60)
    issuer = models.CharField(max_length=80, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True, help_text="empty: no expiry (长期)")
    required = models.BooleanField(default=True)
    scan = models.FileField(upload_to="procurement/licences/%Y/%m/", blank=True)
    scan_content_type = models.CharField(max_length=60, blank=True)
    # Which alert the periodic task last raised, so it raises each alert once.
    alert_state = models.CharField(max_length=10, choices=AlertState.choices, blank=True, default="")

    scope_lookups = {
        "city": "supplier__district__city_id",
        "district": "supplier__district_id",
        "school": "supplier__district__schools__id",
        "campus": "supplier__district__schools__campuses__id",
        "supplier": "supplier__members__user_id",
    }

    class Meta:
        ordering = ["expires_on"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "kind", "number"], name="licence_unique_per_supplier")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    def is_expired(self, on: date) -> bool:
        return self.expires_on is not None and self.expires_on < on


class Item(BaseModel):
    """A catalogue food item of a district (集采目录)."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="catalogue_items")
    code = models.CharField(max_length=24)
    name = models.CharField(max_length=60)
    category = models.CharField(max_length=16, choices=ItemCategory.choices)
    unit = models.CharField(max_length=8, help_text="kg, 斤, 个, 袋, 瓶, L")
    spec = models.CharField(max_length=60, blank=True)
    shelf_life_days = models.PositiveIntegerField(null=True, blank=True)
    storage = models.CharField(max_length=10, choices=Storage.choices, default=Storage.AMBIENT)
    # Matches the meals helper's food composition table (中国食物成分表 code).
    food_code = models.CharField(max_length=16, blank=True, db_index=True)
    # Quick tests that apply on arrival (e.g. ["pesticide_residue"] for leafy vegetables).
    quick_tests = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "district__schools__id",
        "campus": "district__schools__campuses__id",
        "supplier": "prices__supplier__members__user_id",
    }

    class Meta:
        ordering = ["category", "code"]
        constraints = [models.UniqueConstraint(fields=["district", "code"], name="item_code_unique_per_district")]

    def __str__(self) -> str:
        return f"{self.name}（{self.spec}）" if self.spec else self.name


class FrameworkPrice(BaseModel):
    """The district's framework price (集采价) of one item from one supplier for a period.
    A change is a new version; the previous version is closed the day before (never edited)."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="framework_prices")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="prices")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="prices")
    price_fen = models.BigIntegerField(help_text="fen per item unit")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="inclusive; empty: open-ended")
    version = models.PositiveIntegerField(default=1)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "district__schools__id",
        "campus": "district__schools__campuses__id",
        "supplier": "supplier__members__user_id",
    }

    class Meta:
        ordering = ["item__code", "supplier__name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "item", "version"], name="framework_price_version_unique"),
            models.CheckConstraint(condition=models.Q(price_fen__gt=0), name="framework_price_positive"),
        ]
        indexes = [models.Index(fields=["district", "item", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.item} @ {self.supplier}: {self.price_fen} fen v{self.version}"

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class PurchaseOrder(BaseModel):
    """A campus canteen's order to one supplier for one delivery day and meal."""

    number = models.CharField(max_length=32, unique=True)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="purchase_orders")
    canteen = models.ForeignKey(Canteen, on_delete=models.PROTECT, related_name="purchase_orders")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="orders")
    delivery_day = models.DateField()
    meal_kind = models.CharField(max_length=10, choices=MealKind.choices)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.DRAFT)
    total_fen = models.BigIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    scope_lookups = _CAMPUS_SUPPLIER_SCOPE

    class Meta:
        ordering = ["-delivery_day", "number"]
        indexes = [
            models.Index(fields=["district", "delivery_day", "supplier"]),
            models.Index(fields=["campus", "delivery_day"]),
            models.Index(fields=["supplier", "status"]),
        ]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(BaseModel):
    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    framework_price = models.ForeignKey(FrameworkPrice, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY)
    unit = models.CharField(max_length=8)
    price_fen = models.BigIntegerField()
    amount_fen = models.BigIntegerField()
    delivered_quantity = models.DecimalField(**QTY, default=Decimal("0"))
    accepted_quantity = models.DecimalField(**QTY, default=Decimal("0"))

    scope_lookups = {
        "city": "order__district__city_id",
        "district": "order__district_id",
        "school": "order__campus__school_id",
        "campus": "order__campus_id",
        "supplier": "order__supplier__members__user_id",
    }

    class Meta:
        ordering = ["item__category", "item__code"]
        constraints = [
            models.UniqueConstraint(fields=["order", "item"], name="order_line_item_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.item} × {self.quantity}{self.unit}"


class OrderStatusChange(models.Model):
    """History of an order's state machine: one row per move."""

    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} → {self.to_status}"


class Delivery(BaseModel):
    """A supplier's delivery against an order; its lines carry one batch each."""

    number = models.CharField(max_length=32, unique=True)
    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="deliveries")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="deliveries")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.DISPATCHED)
    vehicle_plate = models.CharField(max_length=16, blank=True)
    driver_name = models.CharField(max_length=40, blank=True)
    driver_phone = models.CharField(max_length=20, blank=True)
    dispatched_at = models.DateTimeField(default=timezone.now)
    arrived_at = models.DateTimeField(null=True, blank=True)
    arrival_temperature_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    accepted_fen = models.BigIntegerField(default=0)
    # Set once the supplier invoice was recorded in the ledger.
    invoice_reference = models.CharField(max_length=60, blank=True)
    # The invoice's amount and its three-way match with the order and the receipt
    # (services.delivery_record_invoice): {"order_fen", "received_fen", "returned_fen",
    # "invoice_fen", "differences": [...]}.
    invoice_amount_fen = models.BigIntegerField(null=True, blank=True)
    invoice_match = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Cold chain: the longest stretch outside the goods' range on the way (set by trace from the
    # transport track), and the storekeeper's reason and photo when accepting it anyway.
    coldchain_minutes = models.PositiveIntegerField(default=0)
    coldchain_worst_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    coldchain_reason = models.CharField(max_length=300, blank=True)
    coldchain_photo = models.FileField(upload_to="procurement/coldchain/%Y/%m/", blank=True)

    scope_lookups = _CAMPUS_SUPPLIER_SCOPE

    class Meta:
        ordering = ["-dispatched_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["district", "dispatched_at"]),
            models.Index(fields=["campus", "status"]),
        ]

    def __str__(self) -> str:
        return self.number


class DeliveryStatusChange(models.Model):
    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, choices=DeliveryStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=DeliveryStatus.choices)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.from_status} → {self.to_status}"


class DeliveryLine(BaseModel):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="delivery_lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY)
    unit = models.CharField(max_length=8)
    price_fen = models.BigIntegerField()

    scope_lookups = {
        "city": "delivery__district__city_id",
        "district": "delivery__district_id",
        "school": "delivery__campus__school_id",
        "campus": "delivery__campus_id",
        "supplier": "delivery__supplier__members__user_id",
    }

    class Meta:
        ordering = ["item__category", "item__code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="delivery_line_quantity_positive")
        ]

    def __str__(self) -> str:
        return f"{self.item} × {self.quantity}{self.unit}"


class Batch(BaseModel):
    """One batch of goods as delivered: what trace codes, stock and lineage hang on."""

    delivery_line = models.OneToOneField(DeliveryLine, on_delete=models.PROTECT, related_name="batch")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="batches")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="batches")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="batches")
    batch_number = models.CharField(max_length=60)
    producer = models.CharField(max_length=120)
    producer_licence = models.CharField(max_length=60, blank=True)
    origin = models.CharField(max_length=120, blank=True)
    production_date = models.DateField()
    shelf_life_days = models.PositiveIntegerField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(**QTY)
    unit = models.CharField(max_length=8)
    accepted_quantity = models.DecimalField(**QTY, default=Decimal("0"))
    # What is left in the store; kept equal to the sum of this batch's stock movements.
    on_hand = models.DecimalField(**QTY, default=Decimal("0"))
    qc_report = models.FileField(upload_to="procurement/qc/%Y/%m/", blank=True)
    qc_report_content_type = models.CharField(max_length=40, blank=True)
    qc_report_sha256 = models.CharField(max_length=64, blank=True)
    # [{"test": "pesticide_residue", "value": "12.3", "unit": "%", "passed": true}]
    quick_tests = models.JSONField(default=list, blank=True)
    arrival_temperature_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    status = models.CharField(max_length=20, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # Set while the batch is under a recall (trace): its stock stays in store but is never issued.
    quarantined_at = models.DateTimeField(null=True, blank=True)
    quarantine_reason = models.CharField(max_length=200, blank=True)

    scope_lookups = _CAMPUS_SUPPLIER_SCOPE

    class Meta:
        ordering = ["expires_on", "production_date"]
        verbose_name_plural = "batches"
        indexes = [
            models.Index(fields=["campus", "item", "expires_on"]),
            models.Index(fields=["district", "accepted_at"]),
            models.Index(fields=["batch_number"]),
        ]

    def __str__(self) -> str:
        return f"{self.item.name} {self.batch_number}"


class AcceptanceCheck(BaseModel):
    """The incoming-goods check (进货查验) of one delivery line. A legal record: never updated,
    kept until `retain_until` (≥ 6 months past shelf life, or 2 years without one)."""

    delivery_line = models.OneToOneField(DeliveryLine, on_delete=models.PROTECT, related_name="acceptance")
    batch = models.OneToOneField(Batch, on_delete=models.PROTECT, related_name="acceptance")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="+")
    result = models.CharField(max_length=10, choices=CheckResult.choices)
    accepted_quantity = models.DecimalField(**QTY)
    rejected_quantity = models.DecimalField(**QTY)
    reason = models.CharField(max_length=200, blank=True)
    checked_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    checked_by_label = models.CharField(max_length=150)
    checked_at = models.DateTimeField(default=timezone.now)
    # The legally required fields as they were at the check (name, spec, quantity, production
    # date, batch, shelf life, purchase date, supplier name/USCC/licences).
    record = models.JSONField()
    retain_until = models.DateField(db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    scope_lookups = _CAMPUS_SUPPLIER_SCOPE

    class Meta:
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return f"{self.delivery_line} {self.result}"


class StockCount(BaseModel):
    """A stock count (盘点) of a campus store; closing it books the differences."""

    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="stock_counts")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    counted_on = models.DateField()
    status = models.CharField(max_length=8, choices=CountStatus.choices, default=CountStatus.OPEN)
    started_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    closed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
    }

    class Meta:
        ordering = ["-counted_on"]

    def __str__(self) -> str:
        return f"{self.campus} {self.counted_on}"


class StockCountLine(BaseModel):
    count = models.ForeignKey(StockCount, on_delete=models.CASCADE, related_name="lines")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    expected_quantity = models.DecimalField(**QTY)
    counted_quantity = models.DecimalField(**QTY, null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    scope_lookups = {
        "city": "count__district__city_id",
        "district": "count__district_id",
        "school": "count__campus__school_id",
        "campus": "count__campus_id",
    }

    class Meta:
        ordering = ["batch__item__code"]
        constraints = [models.UniqueConstraint(fields=["count", "batch"], name="count_line_batch_unique")]

    @property
    def discrepancy(self) -> Decimal | None:
        return None if self.counted_quantity is None else self.counted_quantity - self.expected_quantity


class StockMovement(models.Model):
    """Append-only movement of one batch in a campus store. Positive in, negative out.
    Issues say for which day and meal (and optionally dish) the goods went to the kitchen:
    the forward lineage of a batch."""

    id = models.BigAutoField(primary_key=True)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="movements")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="stock_movements")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=MovementKind.choices)
    quantity = models.DecimalField(**QTY)
    day = models.DateField()
    meal_kind = models.CharField(max_length=10, choices=MealKind.choices, blank=True)
    # A dish of the meals app, by id and name (no FK: meals is installed after procurement).
    dish_id = models.UUIDField(null=True, blank=True, db_index=True)
    dish_name = models.CharField(max_length=80, blank=True)
    count = models.ForeignKey(StockCount, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Issues made together share one reference (one FEFO request may span several batches).
    reference = models.CharField(max_length=40, blank=True, db_index=True)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
    }

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["campus", "day", "meal_kind"]),
            models.Index(fields=["batch", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} {self.batch_id}"
