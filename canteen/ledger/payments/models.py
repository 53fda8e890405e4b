"""Models of the real payment providers; imported by ledger.models so Django finds them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from canteen.core.models import BaseModel

from ..choices import MerchantMode, MismatchKind, MismatchStatus, PaymentProviderName, RefundStatus

_ORG_SCOPE = {
    "city": "district__city_id",
    "district": "district_id",
    "school": "school_id",
    "campus": "campus_id",
}


class Merchant(BaseModel):
    """A merchant account at a provider through which a school's top-ups are paid: the school's
    own (direct), or a sub-merchant under the district's service-provider account (partner: the
    district's mch_id and keys, the school's sub_mch_id). A row with no school is the district's
    default for schools without their own. Keys and certificates are NOT here: `credentials_ref`
    names the folder (CANTEEN_PAYMENT_KEYS_DIR/<ref>/) or environment prefix
    (CANTEEN_PAY_<REF>_...) that holds them (payments.merchants)."""

    provider = models.CharField(max_length=20, choices=PaymentProviderName.choices)
    mode = models.CharField(max_length=8, choices=MerchantMode.choices, default=MerchantMode.DIRECT)
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120, blank=True)
    mch_id = models.CharField(max_length=32, help_text="WeChat: mchid (sp_mchid in partner mode); Alipay: app_id")
    app_id = models.CharField(max_length=32, blank=True, help_text="WeChat: the Official Account's appid")
    sub_mch_id = models.CharField(max_length=32, blank=True)
    sub_app_id = models.CharField(max_length=32, blank=True)
    credentials_ref = models.SlugField(max_length=60)
    active = models.BooleanField(default=True)

    scope_lookups = {"city": "district__city_id", "district": "district_id", "school": "school_id"}

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "school"], condition=Q(active=True), name="ledger_merchant_one_per_school"
            ),
            models.UniqueConstraint(
                fields=["provider", "district"],
                condition=Q(active=True, school__isnull=True),
                name="ledger_merchant_one_district_default",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.sub_mch_id or self.mch_id}"


class TopUpRefund(BaseModel):
    """Family money going back to the channel it came from. Requested once per idempotency key;
    the wallet is debited (to refunds due) when requested, and the provider's refund notification
    (or a query) closes it: succeeded moves refunds due out of provider clearing, failed reverses
    the debit."""

    order = models.ForeignKey("ledger.TopUpOrder", on_delete=models.PROTECT, related_name="refunds")
    out_refund_no = models.CharField(max_length=64, unique=True)
    idempotency_key = models.CharField(max_length=160, unique=True)
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=12, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    provider_refund_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    student = models.ForeignKey("org.Student", on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    posting = models.OneToOneField("ledger.Posting", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    settled_posting = models.OneToOneField(
        "ledger.Posting", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    succeeded_at = models.DateTimeField(null=True, blank=True)

    scope_lookups = {**_ORG_SCOPE, "guardian": "student__guardian_links__guardian__user_id"}

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="ledger_refund_amount_positive")]

    def __str__(self) -> str:
        return self.out_refund_no


class ReconciliationItem(BaseModel):
    """One mismatch found by the three-way reconciliation, for finance staff to fix: credit the
    wallet, reverse a posting, or mark it resolved with a reason. Each fix is a posting with audit."""

    reconciliation = models.ForeignKey("ledger.Reconciliation", on_delete=models.PROTECT, related_name="items")
    kind = models.CharField(max_length=24, choices=MismatchKind.choices)
    status = models.CharField(max_length=10, choices=MismatchStatus.choices, default=MismatchStatus.OPEN)
    provider = models.CharField(max_length=20, choices=PaymentProviderName.choices)
    day = models.DateField()
    out_trade_no = models.CharField(max_length=64, blank=True)
    txn_id = models.CharField(max_length=64, blank=True)
    out_refund_no = models.CharField(max_length=64, blank=True)
    bill_fen = models.BigIntegerField(null=True, blank=True)
    order_fen = models.BigIntegerField(null=True, blank=True)
    ledger_fen = models.BigIntegerField(null=True, blank=True)
    order = models.ForeignKey("ledger.TopUpOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    posting = models.ForeignKey("ledger.Posting", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fix_posting = models.ForeignKey("ledger.Posting", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    district = models.ForeignKey("org.District", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    scope_lookups = {"city": "district__city_id", "district": "district_id", "school": "school_id"}

    class Meta:
        ordering = ["day", "kind"]
        indexes = [models.Index(fields=["status", "day"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.out_trade_no or self.out_refund_no}"


class GuardianWeChatBinding(BaseModel):
    """A guardian's openid under an Official Account, bound once through WeChat's OAuth2 web
    authorization while signed in (their login confirms it is them). JSAPI payments (and the
    notification service's WeChat messages) use it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wechat_bindings")
    app_id = models.CharField(max_length=32)
    openid = models.CharField(max_length=64)

    scope_lookups = {"guardian": "user_id"}

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app_id", "openid"], name="ledger_wechat_binding_openid_once"),
            models.UniqueConstraint(fields=["user", "app_id"], name="ledger_wechat_binding_user_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.app_id}"
