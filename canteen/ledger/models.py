"""Double-entry ledger in integer fen.

Sign convention: an entry's `amount_fen` > 0 credits its account, < 0 debits it; the entries of
a posting sum to zero; an account's `balance_fen` is the sum of its entries. Credit-normal
accounts (wallets, revenue, payables, refunds due) therefore hold positive balances, debit-normal
ones (cash, bank, provider clearing, subsidy receivable, costs) negative ones; `shown_fen` turns
the sign round for display.

Postings and entries are append-only: a mistake is corrected by a reversing posting. The cached
`Account.balance_fen` is updated in the same transaction as every posting (see services._post)
and can be rebuilt from the entries (`canteen ledger_rebuild_balances`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from canteen.core.models import AppendOnlyQuerySet, BaseModel
from canteen.core.scoping import ScopedManager

from .choices import (
    AccountKind,
    AccountStatus,
    Channel,
    FundingSource,
    PostingKind,
    ProgrammeKind,
    TopUpOrderStatus,
    TradeType,
)

DEBIT_NORMAL = frozenset(
    {
        AccountKind.CASH,
        AccountKind.BANK,
        AccountKind.PROVIDER,
        AccountKind.SUBSIDY,
        AccountKind.FOOD_COST,
        AccountKind.OTHER_COST,
    }
)

_ORG_SCOPE = {
    "city": "district__city_id",
    "district": "district_id",
    "school": "school_id",
    "campus": "campus_id",
}


class Account(BaseModel):
    """One ledger account. `code` is the natural key (e.g. "wallet:<student id>",
    "revenue:<campus id>"), unique, so that get-or-create is race-free."""

    code = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=AccountKind.choices, db_index=True)
    name = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=8, choices=AccountStatus.choices, default=AccountStatus.OPEN)
    # Owner: a student wallet points at the student; a supplier payable carries the supplier's id
    # only (the ledger must not import procurement).
    student = models.ForeignKey(
        "org.Student", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    owner_id = models.UUIDField(null=True, blank=True, db_index=True)
    # Scope, denormalized so every query can filter (and every table partition) by district.
    campus = models.ForeignKey("org.Campus", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("org.District", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Cached for accounts that are guarded (wallets, payables): updated by the posting's own
    # transaction. House accounts (revenue, cash, costs...) take entries from a whole campus at
    # once; caching their balance would make one hot row that every meal waits for, so their
    # balance is the sum of their entries (indexed by account and date).
    tracks_balance = models.BooleanField(default=True)
    balance_fen = models.BigIntegerField(default=0)
    # Lowest balance allowed (0 = no overdraft, -500 = ¥5 overdraft); null = unbounded (house accounts).
    floor_fen = models.BigIntegerField(null=True, blank=True)
    # Guardian settings for wallets.
    daily_limit_fen = models.BigIntegerField(null=True, blank=True)
    low_balance_alert_fen = models.BigIntegerField(null=True, blank=True)
    # Meal spending of the current day, kept by the same guarded UPDATE that debits the wallet.
    spent_on = models.DateField(null=True, blank=True)
    spent_today_fen = models.BigIntegerField(default=0)

    scope_lookups = {**_ORG_SCOPE, "guardian": "student__guardian_links__guardian__user_id"}

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(floor_fen__isnull=True) | Q(balance_fen__gte=models.F("floor_fen")),
                name="ledger_account_balance_above_floor",
            ),
        ]
        indexes = [models.Index(fields=["campus", "kind"])]

    def __str__(self) -> str:
        return self.name or self.code

    @property
    def current_fen(self) -> int:
        """The balance: cached, or summed from the entries for untracked house accounts."""
        if self.tracks_balance:
            return self.balance_fen
        return self.entries.aggregate(total=models.Sum("amount_fen"))["total"] or 0

    @property
    def shown_fen(self) -> int:
        """The balance with the sign a reader expects (assets and costs positive)."""
        return -self.current_fen if self.kind in DEBIT_NORMAL else self.current_fen


class PostingQuerySet(AppendOnlyQuerySet):
    pass


class Posting(BaseModel):
    """One balanced journal entry. (kind, idempotency_key) is unique: the database, not the
    application, guarantees one charge per key."""

    kind = models.CharField(max_length=20, choices=PostingKind.choices)
    idempotency_key = models.CharField(max_length=160)
    on = models.DateField(db_index=True, help_text="business date; the period it belongs to")
    amount_fen = models.BigIntegerField(help_text="headline amount, positive")
    memo = models.CharField(max_length=200, blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    # Every index is paid on each of the ~60k meal postings an hour: keep only the ones queries
    # use. student and campus are covered by the composite indexes below; actor and school are
    # not searched on their own.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    actor_label = models.CharField(max_length=150, blank=True)
    student = models.ForeignKey(
        "org.Student", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    campus = models.ForeignKey(
        "org.Campus", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    school = models.ForeignKey(
        "org.School", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    district = models.ForeignKey("org.District", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=12, choices=Channel.choices, blank=True)
    reference = models.CharField(max_length=120, blank=True, help_text="meal ref, provider ref, invoice no.")
    counterparty_id = models.UUIDField(null=True, blank=True, help_text="supplier or second student")

    objects = ScopedManager.from_queryset(PostingQuerySet)()

    scope_lookups = {**_ORG_SCOPE, "guardian": "student__guardian_links__guardian__user_id"}

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "idempotency_key"], name="ledger_posting_key_unique"),
            models.CheckConstraint(condition=Q(amount_fen__gte=0), name="ledger_posting_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["student", "created_at"]),
            models.Index(fields=["campus", "on", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_fen / 100:.2f} ({self.on})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Posting is append-only; post a reversal instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Posting is append-only; post a reversal instead")


class Entry(models.Model):
    id = models.BigAutoField(primary_key=True)
    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="entries")
    # Covered by the (account, on) index.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_index=False)
    amount_fen = models.BigIntegerField(help_text="> 0 credit, < 0 debit")
    on = models.DateField()

    objects = AppendOnlyQuerySet.as_manager()

    scope_lookups = {
        "city": "account__district__city_id",
        "district": "account__district_id",
        "school": "account__school_id",
        "campus": "account__campus_id",
        "guardian": "account__student__guardian_links__guardian__user_id",
    }

    class Meta:
        indexes = [models.Index(fields=["account", "on"])]
        constraints = [models.CheckConstraint(condition=~Q(amount_fen=0), name="ledger_entry_nonzero")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_fen:+d}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Entry is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Entry is append-only")


class Book(BaseModel):
    """Per-campus books: how far the periods are closed. A posting dated on or before
    `closed_through` is refused; corrections are dated in the open period."""

    campus = models.OneToOneField("org.Campus", on_delete=models.PROTECT, related_name="ledger_book")
    closed_through = models.DateField(null=True, blank=True)

    scope_lookups = {
        "city": "campus__school__district__city_id",
        "district": "campus__school__district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
    }

    def __str__(self) -> str:
        return f"{self.campus_id} closed through {self.closed_through}"


class PeriodClose(BaseModel):
    """A closed day or month with its totals, frozen at closing time."""

    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    period = models.CharField(max_length=8, choices=[("day", "日结 Day"), ("month", "月结 Month")])
    start = models.DateField()
    end = models.DateField()
    totals = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {**_ORG_SCOPE, "guardian": "campus__students__guardian_links__guardian__user_id"}

    class Meta:
        ordering = ["-end"]
        constraints = [models.UniqueConstraint(fields=["campus", "period", "start"], name="ledger_period_close_unique")]

    def __str__(self) -> str:
        return f"{self.period} {self.start}–{self.end}"


class TopUpOrder(BaseModel):
    """An online top-up in flight at a payment provider. Paid at most once: the provider's
    notification is verified and posted with the provider's transaction id as idempotency key."""

    out_trade_no = models.CharField(max_length=64, unique=True)
    provider = models.CharField(max_length=20, default="demo")
    student = models.ForeignKey("org.Student", on_delete=models.PROTECT, related_name="+")
    guardian_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=TopUpOrderStatus.choices, default=TopUpOrderStatus.CREATED)
    provider_txn_id = models.CharField(max_length=64, blank=True)
    posting = models.OneToOneField(Posting, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    paid_at = models.DateTimeField(null=True, blank=True)
    # Real providers (payments/): which merchant took it, how the payer pays, until when, and
    # how much of it has gone back to the payer.
    merchant = models.ForeignKey(
        "ledger.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    trade_type = models.CharField(max_length=8, choices=TradeType.choices, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    refunded_fen = models.BigIntegerField(default=0)
    # What the payer's page needs to pay (WeChat prepay id / code_url / h5_url, Alipay URL): no secrets.
    pay_payload = models.JSONField(default=dict, blank=True)

    scope_lookups = {**_ORG_SCOPE, "guardian": "student__guardian_links__guardian__user_id"}

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return self.out_trade_no


class ProviderNotification(models.Model):
    """Every callback received, verified or not: the raw evidence for reconciliation."""

    id = models.BigAutoField(primary_key=True)
    provider = models.CharField(max_length=20)
    received_at = models.DateTimeField(auto_now_add=True)
    body = models.JSONField()
    signature_ok = models.BooleanField()
    outcome = models.CharField(max_length=40)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.provider} {self.outcome}"


class Reconciliation(BaseModel):
    """One provider settlement file matched against online top-ups."""

    provider = models.CharField(max_length=20)
    settlement_date = models.DateField()
    file_name = models.CharField(max_length=200, blank=True)
    rows = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    mismatches = models.JSONField(default=list)
    district = models.ForeignKey("org.District", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey("ledger.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # A school's staff see the runs of their own school's merchant.
    scope_lookups = {"city": "district__city_id", "district": "district_id", "school": "merchant__school_id"}

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.provider} {self.settlement_date}"


class SubsidyRun(BaseModel):
    """One bulk grant of the nutrition programme allowance for one school day."""

    day = models.DateField()
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    per_student_fen = models.BigIntegerField()
    students = models.PositiveIntegerField(default=0)
    granted_fen = models.BigIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {"city": "district__city_id", "district": "district_id"}

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day} {self.students}"


class DemoProviderCharge(models.Model):
    """The demo payment provider's own books (what it would hold on its side): the source of its
    settlement file, independent of our postings, so that reconciliation compares two records."""

    id = models.BigAutoField(primary_key=True)
    txn_id = models.CharField(max_length=64, unique=True)
    out_trade_no = models.CharField(max_length=64, unique=True)
    amount_fen = models.BigIntegerField()
    paid_at = models.DateTimeField()
    settlement_date = models.DateField(db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.txn_id


class SubsidyProgramme(BaseModel):
    """A subsidy programme of a district (营养改善计划, boarding or hardship allowances, free
    meals): who pays for it and how much a pupil gets per school day. Its fund is the campus
    subsidy account owned by the programme (code "subsidy:<campus>:<programme>")."""

    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=12, choices=ProgrammeKind.choices)
    funding_source = models.CharField(max_length=12, choices=FundingSource.choices)
    per_day_fen = models.BigIntegerField()
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "district__schools__id",
        "campus": "district__schools__campuses__id",
    }

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="ledger_programme_code_unique"),
            models.CheckConstraint(condition=Q(per_day_fen__gt=0), name="ledger_programme_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class SubsidyEligibility(BaseModel):
    """A pupil is in a programme from `start` to `end` (inclusive; open-ended when null)."""

    programme = models.ForeignKey(SubsidyProgramme, on_delete=models.PROTECT, related_name="eligibilities")
    student = models.ForeignKey("org.Student", on_delete=models.PROTECT, related_name="+")
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {**_ORG_SCOPE, "guardian": "student__guardian_links__guardian__user_id"}

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["programme", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gte=models.F("start")), name="ledger_eligibility_dates"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} in {self.programme_id} from {self.start}"


# Real payment providers (issue 29): merchants, refunds to the original channel, mismatches.
from .payments.models import GuardianWeChatBinding, Merchant, ReconciliationItem, TopUpRefund  # noqa: E402, F401
