"""Admin: read-mostly views for support staff; state changes go through the services."""

from django.contrib import admin

from .models import (
    AcceptanceCheck,
    Batch,
    Delivery,
    FrameworkPrice,
    Item,
    Licence,
    PurchaseOrder,
    StockMovement,
    Supplier,
    SupplierMember,
)


class LicenceInline(admin.TabularInline):
    model = Licence
    extra = 0


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "uscc", "district", "district_approved", "is_active")
    list_filter = ("district", "district_approved")
    search_fields = ("name", "uscc")
    inlines = [LicenceInline]


@admin.register(SupplierMember)
class SupplierMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "supplier", "title")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "category", "unit", "spec", "shelf_life_days", "food_code", "district")
    list_filter = ("district", "category")
    search_fields = ("code", "name", "food_code")


@admin.register(FrameworkPrice)
class FrameworkPriceAdmin(admin.ModelAdmin):
    list_display = ("item", "supplier", "price_fen", "version", "valid_from", "valid_to")
    list_filter = ("district",)
    readonly_fields = [f.name for f in FrameworkPrice._meta.fields]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = ("number", "campus", "supplier", "delivery_day", "meal_kind", "status", "total_fen")
    list_filter = ("status", "district", "delivery_day")
    search_fields = ("number",)
    readonly_fields = [f.name for f in PurchaseOrder._meta.fields]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("number", "campus", "supplier", "status", "accepted_fen", "dispatched_at")
    list_filter = ("status", "district")
    search_fields = ("number",)
    readonly_fields = [f.name for f in Delivery._meta.fields]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("batch_number", "item", "campus", "supplier", "production_date", "expires_on", "status", "on_hand")
    list_filter = ("status", "district")
    search_fields = ("batch_number", "producer")
    readonly_fields = [f.name for f in Batch._meta.fields]


@admin.register(AcceptanceCheck)
class AcceptanceCheckAdmin(admin.ModelAdmin):
    list_display = ("delivery_line", "result", "accepted_quantity", "checked_by_label", "checked_at", "retain_until")
    readonly_fields = [f.name for f in AcceptanceCheck._meta.fields]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a legal record (进货查验), kept for the retention period


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    list_display = ("at", "kind", "item", "batch", "quantity", "day", "meal_kind", "campus")
    list_filter = ("kind", "district")
    readonly_fields = [f.name for f in StockMovement._meta.fields]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
