"""Supervision: rollups fed by the other domains' events, cases (问题/整改单) as a closed loop,
inspections, parent feedback.

Rollup tables carry the org keys (campus, school, district, city) as plain UUIDs, not foreign
keys: they are derived data, partitioned by date on PostgreSQL (see migration 0002 and
docs/decisions.md), and a dashboard reads them without a single join."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from canteen.core.models import BaseModel
from canteen.core.scoping import ScopedManager

from .choices import (
    CaseSource,
    CaseStatus,
    FeedbackKind,
    FeedbackStatus,
    Flag,
    InspectionKind,
    InspectionStatus,
    ItemResult,
    Severity,
)

ROLLUP_SCOPE = {"city": "city_id", "district": "district_id", "school": "school_id", "campus": "campus_id"}


class CampusDim(models.Model):
    """The org hierarchy flattened for dashboards (names, enrolment); refreshed from org by
    `supervision_rebuild` and a periodic task, so a dashboard never joins org tables."""

    campus_id = models.UUIDField(primary_key=True)
    school_id = models.UUIDField(db_index=True)
    district_id = models.UUIDField(db_index=True)
    city_id = models.UUIDField(db_index=True)
    campus_name = models.CharField(max_length=100)
    school_name = models.CharField(max_length=100)
    district_name = models.CharField(max_length=60)
    enrolled = models.PositiveIntegerField(default=0)

    objects = ScopedManager()
    scope_lookups = ROLLUP_SCOPE

    def __str__(self) -> str:
        return f"{self.school_name}·{self.campus_name}"


# Counters of DailyCampusStats; every one is maintained by an event handler and recomputed
# by `supervision_rebuild`.
DAILY_COUNTERS = [
    "meals_served",
    "meals_voided",
    "meals_breakfast",
    "meals_lunch",
    "meals_dinner",
    "meal_revenue_fen",
    "meal_charges_fen",
    "topups_fen",
    "topups_count",
    "subsidy_fen",
    "food_spend_fen",
    "deliveries_accepted",
    "deliveries_rejected",
    "deliveries_traced",
    "delivery_accepted_fen",
    "batches_accepted",
    "alarms",
    "records_missing",
    "nutrition_checks",
    "nutrition_failed",
    "feedback_count",
]


class DailyCampusStats(models.Model):
    """One row per campus and day. Partitioned by month on PostgreSQL (primary key (id, day))."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    campus_id = models.UUIDField()
    school_id = models.UUIDField()
    district_id = models.UUIDField()
    city_id = models.UUIDField()
    meals_served = models.IntegerField(default=0, db_default=0)
    meals_voided = models.IntegerField(default=0, db_default=0)
    # Net per session (served minus voided).
    meals_breakfast = models.IntegerField(default=0, db_default=0)
    meals_lunch = models.IntegerField(default=0, db_default=0)
    meals_dinner = models.IntegerField(default=0, db_default=0)
    meal_revenue_fen = models.BigIntegerField(default=0, db_default=0)
    meal_charges_fen = models.BigIntegerField(default=0, db_default=0)
    topups_fen = models.BigIntegerField(default=0, db_default=0)
    topups_count = models.IntegerField(default=0, db_default=0)
    subsidy_fen = models.BigIntegerField(default=0, db_default=0)
    food_spend_fen = models.BigIntegerField(default=0, db_default=0)
    deliveries_accepted = models.IntegerField(default=0, db_default=0)
    deliveries_rejected = models.IntegerField(default=0, db_default=0)
    deliveries_traced = models.IntegerField(default=0, db_default=0)
    delivery_accepted_fen = models.BigIntegerField(default=0, db_default=0)
    batches_accepted = models.IntegerField(default=0, db_default=0)
    alarms = models.IntegerField(default=0, db_default=0)
    records_missing = models.IntegerField(default=0, db_default=0)
    nutrition_checks = models.IntegerField(default=0, db_default=0)
    nutrition_failed = models.IntegerField(default=0, db_default=0)
    feedback_count = models.IntegerField(default=0, db_default=0)
    last_served_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()
    scope_lookups = ROLLUP_SCOPE

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "campus_id"], name="sv_daily_day_campus_uniq")]
        indexes = [
            models.Index(fields=["district_id", "day"], name="sv_daily_district_day"),
            models.Index(fields=["city_id", "day"], name="sv_daily_city_day"),
            models.Index(fields=["school_id", "day"], name="sv_daily_school_day"),
        ]

    @property
    def meals_net(self) -> int:
        return self.meals_served - self.meals_voided


class DailyDistrictStats(models.Model):
    """The same counters per district and day, maintained by the same handlers in the same
    transaction: the city dashboard reads 20 rows a day instead of 1,000. Always equal to the
    sum of DailyCampusStats over the district (checked by `supervision_rebuild`)."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    district_id = models.UUIDField()
    city_id = models.UUIDField()
    meals_served = models.IntegerField(default=0, db_default=0)
    meals_voided = models.IntegerField(default=0, db_default=0)
    meals_breakfast = models.IntegerField(default=0, db_default=0)
    meals_lunch = models.IntegerField(default=0, db_default=0)
    meals_dinner = models.IntegerField(default=0, db_default=0)
    meal_revenue_fen = models.BigIntegerField(default=0, db_default=0)
    meal_charges_fen = models.BigIntegerField(default=0, db_default=0)
    topups_fen = models.BigIntegerField(default=0, db_default=0)
    topups_count = models.IntegerField(default=0, db_default=0)
    subsidy_fen = models.BigIntegerField(default=0, db_default=0)
    food_spend_fen = models.BigIntegerField(default=0, db_default=0)
    deliveries_accepted = models.IntegerField(default=0, db_default=0)
    deliveries_rejected = models.IntegerField(default=0, db_default=0)
    deliveries_traced = models.IntegerField(default=0, db_default=0)
    delivery_accepted_fen = models.BigIntegerField(default=0, db_default=0)
    batches_accepted = models.IntegerField(default=0, db_default=0)
    alarms = models.IntegerField(default=0, db_default=0)
    records_missing = models.IntegerField(default=0, db_default=0)
    nutrition_checks = models.IntegerField(default=0, db_default=0)
    nutrition_failed = models.IntegerField(default=0, db_default=0)
    feedback_count = models.IntegerField(default=0, db_default=0)
    # Campus-days with at least one meal (the participation denominator).
    campus_meal_days = models.IntegerField(default=0, db_default=0)

    objects = ScopedManager()
    scope_lookups = {"city": "city_id", "district": "district_id"}

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "district_id"], name="sv_ddaily_day_district_uniq")]
        indexes = [models.Index(fields=["city_id", "day"], name="sv_ddaily_city_day")]


class DistrictSpend(models.Model):
    """DailySpend summed per district, supplier and category (the city's spend charts)."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    district_id = models.UUIDField()
    city_id = models.UUIDField()
    supplier_id = models.CharField(max_length=64)
    supplier_name = models.CharField(max_length=120, blank=True)
    category = models.CharField(max_length=60, blank=True)
    amount_fen = models.BigIntegerField(default=0, db_default=0)

    objects = ScopedManager()
    scope_lookups = {"city": "city_id", "district": "district_id"}

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "district_id", "supplier_id", "category"], name="sv_dspend_day_district_sup_cat_uniq"
            )
        ]
        indexes = [models.Index(fields=["city_id", "day"], name="sv_dspend_city_day")]


class HourlyCampusMeals(models.Model):
    """Meals served per campus and hour (gross, by serving time): the big screen's live curve."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    campus_id = models.UUIDField()
    school_id = models.UUIDField()
    district_id = models.UUIDField()
    city_id = models.UUIDField()
    meals = models.IntegerField(default=0, db_default=0)

    objects = ScopedManager()
    scope_lookups = ROLLUP_SCOPE

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "campus_id", "hour"], name="sv_hourly_day_campus_hour_uniq")
        ]
        indexes = [models.Index(fields=["district_id", "day"], name="sv_hourly_district_day")]


class DailySpend(models.Model):
    """Accepted deliveries by campus, supplier and food category (procurement spend)."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    campus_id = models.UUIDField()
    school_id = models.UUIDField()
    district_id = models.UUIDField()
    city_id = models.UUIDField()
    supplier_id = models.CharField(max_length=64)
    supplier_name = models.CharField(max_length=120, blank=True)
    category = models.CharField(max_length=60, blank=True)
    amount_fen = models.BigIntegerField(default=0, db_default=0)

    objects = ScopedManager()
    scope_lookups = ROLLUP_SCOPE

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "campus_id", "supplier_id", "category"], name="sv_spend_day_campus_sup_cat_uniq"
            )
        ]
        indexes = [models.Index(fields=["district_id", "day"], name="sv_spend_district_day")]


class ProcessedEvent(models.Model):
    """Each outbox event is applied to the rollups at most once (replays are no-ops).
    Pruned after CANTEEN_SUPERVISION_PROCESSED_DAYS by a periodic task."""

    event_id = models.BigIntegerField(primary_key=True)
    topic = models.CharField(max_length=80)
    processed_at = models.DateTimeField(default=timezone.now, db_index=True)


class LicenceWatch(models.Model):
    """Supplier licences reported expiring or expired by procurement."""

    id = models.BigAutoField(primary_key=True)
    ref = models.CharField(max_length=120, unique=True)
    supplier_id = models.CharField(max_length=64)
    supplier_name = models.CharField(max_length=120, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    expired = models.BooleanField(default=False)
    district_id = models.UUIDField(null=True, blank=True, db_index=True)
    city_id = models.UUIDField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager()
    scope_lookups = {"city": "city_id", "district": "district_id"}


class LiveItem(models.Model):
    """The big screen's ticker: alarms, cases and feedback as they arrive (pruned daily)."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=20)
    text_zh = models.CharField(max_length=200)
    text_en = models.CharField(max_length=200)
    campus_id = models.UUIDField(null=True, blank=True)
    school_id = models.UUIDField(null=True, blank=True)
    district_id = models.UUIDField(null=True, blank=True, db_index=True)
    city_id = models.UUIDField(null=True, blank=True)

    objects = ScopedManager()
    scope_lookups = ROLLUP_SCOPE

    class Meta:
        ordering = ["-id"]


class Case(BaseModel):
    """问题/整改单. `open_source_key` is set while the case is open and cleared on closing: its
    unique constraint makes "one open case per source reference" a database fact."""

    number = models.CharField(max_length=24, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=24, choices=CaseSource.choices)
    source_ref = models.CharField(max_length=160, blank=True)
    open_source_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.OPENED, db_index=True)
    flag = models.CharField(max_length=8, choices=Flag.choices, default=Flag.NONE, blank=True)
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey("org.Campus", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deadline = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set when the school's response (整改) came after the deadline; kept for the ranking.
    responded_late = models.BooleanField(default=False)
    return_count = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "school_id",
        "campus": "campus_id",
    }

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["district", "status"], name="sv_case_district_status"),
            models.Index(fields=["school", "status"], name="sv_case_school_status"),
            models.Index(fields=["status", "deadline"], name="sv_case_status_deadline"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status != CaseStatus.CLOSED


class CaseStep(models.Model):
    """The case's history: one row per move, never updated."""

    id = models.BigAutoField(primary_key=True)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="steps")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=12)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = ScopedManager()
    scope_lookups = {
        "city": "case__district__city_id",
        "district": "case__district_id",
        "school": "case__school_id",
        "campus": "case__campus_id",
    }

    class Meta:
        ordering = ["id"]


def evidence_path(instance: CaseEvidence, filename: str) -> str:
    return f"supervision/cases/{instance.case_id}/{instance.sha256[:16]}-{filename[-60:]}"


class CaseEvidence(models.Model):
    """Photos and files a school attaches to its response (validated by type and size)."""

    id = models.BigAutoField(primary_key=True)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    step = models.ForeignKey(CaseStep, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to=evidence_path)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    is_image = models.BooleanField(default=False)

    objects = ScopedManager()
    scope_lookups = CaseStep.scope_lookups


class Inspection(BaseModel):
    kind = models.CharField(max_length=10, choices=InspectionKind.choices)
    status = models.CharField(max_length=10, choices=InspectionStatus.choices, default=InspectionStatus.PLANNED)
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="+")
    planned_on = models.DateField()
    inspectors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    # 双随机: the seed and batch of the draw, so anyone can re-run and check it.
    draw_batch = models.CharField(max_length=40, blank=True, db_index=True)
    draw_seed = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
    }

    class Meta:
        ordering = ["-planned_on", "-created_at"]


class InspectionItem(models.Model):
    id = models.BigAutoField(primary_key=True)
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(max_length=30)
    text_zh = models.CharField(max_length=120)
    text_en = models.CharField(max_length=120)
    result = models.CharField(max_length=8, choices=ItemResult.choices, default=ItemResult.PENDING)
    note = models.CharField(max_length=500, blank=True)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = ScopedManager()
    scope_lookups = {
        "city": "inspection__district__city_id",
        "district": "inspection__district_id",
        "school": "inspection__campus__school_id",
        "campus": "inspection__campus_id",
    }

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["inspection", "code"], name="sv_inspection_item_code_uniq")]


class Feedback(BaseModel):
    """A parent's message from the canteen's QR code (no login)."""

    follow_code = models.CharField(max_length=12, unique=True)
    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey("org.School", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=FeedbackKind.choices)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    text = models.TextField(max_length=1000)
    contact = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=12, choices=FeedbackStatus.choices, default=FeedbackStatus.RECEIVED)
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback")

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "school_id",
        "campus": "campus_id",
    }

    class Meta:
        ordering = ["-created_at"]


class RateLimitBucket(models.Model):
    """A fixed-window counter in the database, so the limit holds across web processes."""

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(max_length=120)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="sv_ratelimit_key_window_uniq")]
        indexes = [models.Index(fields=["window_start"], name="sv_ratelimit_window")]


# Counters a RollupDelta carries: those moved by the topics of the checkout path.
DELTA_COUNTERS = [
    "meals_served",
    "meals_voided",
    "meals_breakfast",
    "meals_lunch",
    "meals_dinner",
    "meal_revenue_fen",
    "meal_charges_fen",
    "topups_fen",
    "topups_count",
]


class RollupDelta(models.Model):
    """One high-frequency fact (a meal served or voided, a charge, a top-up), appended by its
    handler instead of updating the shared campus-day row: the checkout transaction only
    INSERTs, so checkouts of one campus no longer queue on that row's lock until commit.
    `tasks.fold_rollup_deltas` folds them into the rollup tables every few seconds; readers add
    the deltas not yet folded, so the figures stay exact. The table holds seconds of traffic."""

    id = models.BigAutoField(primary_key=True)
    # The outbox event: one delta per event, however often the event is replayed.
    event_id = models.BigIntegerField(unique=True)
    day = models.DateField()
    campus_id = models.UUIDField()
    school_id = models.UUIDField()
    district_id = models.UUIDField()
    city_id = models.UUIDField()
    # Meals served only: the serving hour (the big screen's curve) and time.
    hour = models.PositiveSmallIntegerField(null=True, blank=True)
    served_at = models.DateTimeField(null=True, blank=True)
    meals_served = models.IntegerField(default=0)
    meals_voided = models.IntegerField(default=0)
    meals_breakfast = models.IntegerField(default=0)
    meals_lunch = models.IntegerField(default=0)
    meals_dinner = models.IntegerField(default=0)
    meal_revenue_fen = models.BigIntegerField(default=0)
    meal_charges_fen = models.BigIntegerField(default=0)
    topups_fen = models.BigIntegerField(default=0)
    topups_count = models.IntegerField(default=0)

    objects = ScopedManager()
    scope_lookups = ROLLUP_SCOPE

    class Meta:
        indexes = [
            models.Index(fields=["day", "campus_id"], name="sv_delta_day_campus"),
            models.Index(fields=["district_id", "day"], name="sv_delta_district_day"),
        ]
