"""Consumption: the registered window terminals and the meal records they (or a window operator)
create at checkout. A meal record is the fact "this student was served this set meal at this
window"; the money moves in `ledger` (the record keeps the posting id)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from canteen.core.models import BaseModel
from canteen.org.models import Campus, ServingWindow, Student


class Method(models.TextChoices):
    FACE = "face", "刷脸 Face"
    QR = "qr", "二维码 QR code"
    PIN = "pin", "学号+PIN Student number + PIN"
    MANUAL = "manual", "人工核验 Manual check"


class RecordStatus(models.TextChoices):
    SERVED = "served", "已取餐 Served"
    VOIDED = "voided", "已撤销 Voided"


class ChargeStatus(models.TextChoices):
    CHARGED = "charged", "已扣款 Charged"
    # Served offline beyond the balance: the food was handed over, the debt is settled later
    # (consumption.settle_unpaid retries the same ledger key after a top-up).
    UNPAID = "unpaid", "待扣款 Unpaid"
    FREE = "free", "免费 Free"


class Terminal(BaseModel):
    """A registered device at one serving window. Its API token is shown once at registration
    and stored only as a SHA-256 hash (the token is 32 random bytes, so a slow hash adds
    nothing); `token_prefix` finds the row without scanning."""

    window = models.ForeignKey(ServingWindow, on_delete=models.PROTECT, related_name="terminals")
    # Denormalized from the window: the gallery, the scope and every checkout need it.
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=60)
    code = models.CharField(max_length=48, unique=True)
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    # While the server is unreachable the terminal serves at most this much per student per day,
    # and at most `offline_total_limit_fen` in all before it must sync: the money at risk.
    offline_limit_fen = models.BigIntegerField(default=3000)
    offline_total_limit_fen = models.BigIntegerField(default=300_000)
    is_active = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_gallery_version = models.CharField(max_length=64, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {
        "city": "campus__school__district__city_id",
        "district": "campus__school__district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
    }

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class MealRecord(BaseModel):
    """One served meal. Keys and indexes lead with (campus, served_on) and carry district and
    school ids so that the table can be partitioned by district and date without joins."""

    # Every checkout inserts one row, and each index is another insert in the same call: the
    # foreign keys lean on the composite indexes in Meta (student, campus, terminal lead one
    # each) instead of indexes of their own. A window with meals is never deleted (PROTECT);
    # the check that says so scans, on the rare day a window is removed.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="meal_records", db_index=False)
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="+", db_index=False)
    school_id = models.UUIDField()
    district_id = models.UUIDField()
    window = models.ForeignKey(
        ServingWindow, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    terminal = models.ForeignKey(
        Terminal, null=True, blank=True, on_delete=models.PROTECT, related_name="meal_records", db_index=False
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    session_kind = models.CharField(max_length=16)
    session_id = models.CharField(max_length=64, blank=True)
    served_on = models.DateField()
    # When the student stood at the window (for an offline checkout: the original moment,
    # not the sync time, which is created_at).
    served_at = models.DateTimeField(default=timezone.now)
    # 1 for the first meal of the session; a session that allows seconds counts up. Unique with
    # the student and session: the database, not only the service, refuses a double serving.
    serving_no = models.PositiveSmallIntegerField(default=1)
    set_meal_id = models.CharField(max_length=64, blank=True)
    set_meal_name = models.CharField(max_length=100)
    dishes = models.JSONField(default=list, blank=True)
    price_fen = models.BigIntegerField()
    method = models.CharField(max_length=8, choices=Method.choices)
    match_distance = models.FloatField(null=True, blank=True)
    match_margin = models.FloatField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=128)  # unique: Meta.constraints
    # HMAC of the request body (services.request_digest): a key reused with another body is
    # refused, not replayed. Blank on records written before it was kept.
    request_digest = models.CharField(max_length=64, blank=True, default="")
    posting_id = models.CharField(max_length=64, blank=True)
    charge_status = models.CharField(max_length=8, choices=ChargeStatus.choices, default=ChargeStatus.CHARGED)
    balance_after_fen = models.BigIntegerField(null=True, blank=True)
    served_offline = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=RecordStatus.choices, default=RecordStatus.SERVED)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)
    void_posting_id = models.CharField(max_length=64, blank=True)

    scope_lookups = {
        "city": "campus__school__district__city_id",
        "district": "district_id",
        "school": "school_id",
        "campus": "campus_id",
        "guardian": "student__guardian_links__guardian__user_id",
    }

    class Meta:
        ordering = ["-served_at"]
        constraints = [
            # Also the index of a student's meals by day (its leading columns).
            models.UniqueConstraint(
                fields=["student", "served_on", "session_kind", "serving_no"], name="meal_record_one_serving_slot"
            ),
            # A constraint rather than unique=True: no second, pattern-matching index beside it.
            models.UniqueConstraint(fields=["idempotency_key"], name="meal_record_key_unique"),
        ]
        indexes = [
            models.Index(fields=["campus", "served_on"], name="meal_record_campus_day"),
            models.Index(fields=["district_id", "served_on"], name="meal_record_district_day"),
            models.Index(fields=["terminal", "served_on"], name="meal_record_terminal_day"),
            # An operator's meals (and SET_NULL when a user is deleted); terminal checkouts have none.
            models.Index(fields=["operator"], name="meal_record_operator", condition=models.Q(operator__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.served_on} {self.session_kind} {self.student_id} {self.set_meal_name}"


class MealRecordTransition(BaseModel):
    """History of a record's status moves (served → voided), who and why."""

    record = models.ForeignKey(MealRecord, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=8, blank=True)
    to_status = models.CharField(max_length=8)
    actor_label = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    scope_lookups = {
        "city": "record__campus__school__district__city_id",
        "district": "record__district_id",
        "school": "record__school_id",
        "campus": "record__campus_id",
    }

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.record_id}: {self.from_status or '∅'} → {self.to_status}"


class ConflictResolution(models.TextChoices):
    PENDING = "pending", "待处理 Waiting for the window staff"
    ALTERNATIVE = "alternative", "已改供替代套餐 Alternative meal served"
    CONFIRMED = "confirmed", "工作人员确认后供餐 Served after staff confirmation"
    DECLINED = "declined", "未供餐 Not served"
    SERVED_OFFLINE = "served_offline", "离线时已供餐 Served while offline"


class AllergenConflict(BaseModel):
    """A checkout stopped because today's set meal holds one of the pupil's declared allergens
    (or breaks their diet). The charge is refused; the window staff serve the alternative set
    meal of the menu, or confirm with a reason; either way the conflict is kept, audited and
    published (`consumption.allergen_conflict`)."""

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="+")
    school_id = models.UUIDField()
    district_id = models.UUIDField()
    window = models.ForeignKey(ServingWindow, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    terminal = models.ForeignKey(Terminal, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    served_on = models.DateField()
    session_kind = models.CharField(max_length=16)
    set_meal_id = models.CharField(max_length=64, blank=True)
    set_meal_name = models.CharField(max_length=100)
    # Allergen codes (meals.choices.Allergen) the meal holds and the pupil declared; a diet
    # rule broken is "diet:<diet>".
    allergens = models.JSONField(default=list)
    alternative_set_meal_id = models.CharField(max_length=64, blank=True)
    alternative_set_meal_name = models.CharField(max_length=100, blank=True)
    method = models.CharField(max_length=8, choices=Method.choices)
    # The checkout key that met the conflict: a terminal's retry finds the same conflict.
    idempotency_key = models.CharField(max_length=128, unique=True)
    resolution = models.CharField(max_length=16, choices=ConflictResolution.choices, default=ConflictResolution.PENDING)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    meal_record = models.ForeignKey(MealRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    scope_lookups = {
        "city": "campus__school__district__city_id",
        "district": "district_id",
        "school": "school_id",
        "campus": "campus_id",
    }

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["campus", "served_on", "resolution"], name="allergen_conflict_day")]

    @property
    def allergen_labels(self) -> list[str]:
        from .allergens import labels

        return labels(self.allergens)

    def __str__(self) -> str:
        return f"{self.served_on} {self.student_id} {','.join(self.allergens)} {self.resolution}"


class FaceLiveness(models.TextChoices):
    OFF = "off", "不要求 Not required"
    REQUIRED = "required", "必须通过活体检测 Required"


class CampusCheckoutPolicy(BaseModel):
    """A campus's rules for its window terminals. `face_liveness`: whether a face checkout needs
    proof of a live face (the camera module's signal, or the terminal's multi-frame check);
    sent to the terminals with their configuration."""

    campus = models.OneToOneField(Campus, on_delete=models.CASCADE, related_name="+")
    face_liveness = models.CharField(max_length=10, choices=FaceLiveness.choices, default=FaceLiveness.OFF)

    scope_lookups = {
        "city": "campus__school__district__city_id",
        "district": "campus__school__district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
    }

    def __str__(self) -> str:
        return f"{self.campus_id} liveness={self.face_liveness}"
