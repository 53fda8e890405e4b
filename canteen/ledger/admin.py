"""Read-only admin: the books are changed through services (postings), never by editing rows."""

from django.contrib import admin

from .models import Account, Entry, PeriodClose, Posting, Reconciliation, SubsidyRun, TopUpOrder


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    extra = 0
    can_delete = False
    readonly_fields = ("account", "amount_fen", "on")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnly):
    list_display = ("code", "kind", "name", "status", "balance_fen", "floor_fen", "daily_limit_fen")
    list_filter = ("kind", "status")
    search_fields = ("code", "name")


@admin.register(Posting)
class PostingAdmin(ReadOnly):
    list_display = ("created_at", "kind", "amount_fen", "on", "actor_label", "idempotency_key", "memo")
    list_filter = ("kind", "channel", "on")
    search_fields = ("idempotency_key", "reference", "memo")
    inlines = [EntryInline]


for model in (PeriodClose, Reconciliation, SubsidyRun, TopUpOrder):
    admin.site.register(model, ReadOnly)
