"""Bright kitchen (明厨亮灶): cameras, their health, the recordings index and alarms; and the
daily food-safety records (morning checks, food samples, disinfection, accompanied meals, waste).

Video work never happens in the web process: `canteen streams` writes CameraHealth,
RecordingSegment and Alarm rows and the files under the kitchen directory; the web only reads."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils import timezone

from canteen.core.models import BaseModel

from .choices import (
    AlarmStatus,
    Area,
    Codec,
    DisinfectionMethod,
    DisinfectionTarget,
    HealthStatus,
    Meal,
    RecordKind,
    WasteKind,
)


def _via(prefix: str) -> dict[str, str]:
    """Scope lookups for a model that reaches the org tree through `prefix` (a canteen FK path)."""
    return {
        "city": f"{prefix}__campus__school__district__city_id",
        "district": f"{prefix}__campus__school__district_id",
        "school": f"{prefix}__campus__school_id",
        "campus": f"{prefix}__campus_id",
    }


class Camera(BaseModel):
    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="cameras")
    name = models.CharField(max_length=60)
    area = models.CharField(max_length=20, choices=Area.choices)
    # Without user:password; those live encrypted in credentials_enc (see kitchen.crypto).
    stream_url = models.CharField(max_length=300)
    credentials_enc = models.TextField(blank=True, editable=False)
    codec = models.CharField(max_length=8, choices=Codec.choices, default=Codec.H264)
    enabled = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    scope_lookups = _via("canteen")

    class Meta:
        ordering = ["canteen__code", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["canteen", "name"], name="kitchen_camera_name_unique")]

    def __str__(self) -> str:
        return f"{self.canteen.name}·{self.name}"

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_enc)


class CameraHealth(BaseModel):
    """Written by the stream supervisor only; `heartbeat_at` tells the web whether it is alive."""

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, related_name="health")
    status = models.CharField(max_length=10, choices=HealthStatus.choices, default=HealthStatus.OFFLINE)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    last_segment_at = models.DateTimeField(null=True, blank=True)
    bitrate_kbps = models.PositiveIntegerField(default=0)
    fps = models.FloatField(default=0)
    frames = models.BigIntegerField(default=0)
    restarts = models.PositiveIntegerField(default=0)
    last_exit_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    scope_lookups = _via("camera__canteen")

    def __str__(self) -> str:
        return f"{self.camera_id} {self.status}"

    def effective_status(self, *, now=None, stale_seconds: int = 30) -> str:
        """A supervisor that stopped writing cannot say "online": treat a stale row as offline."""
        now = now or timezone.now()
        if self.status == HealthStatus.ONLINE and (
            self.heartbeat_at is None or (now - self.heartbeat_at).total_seconds() > stale_seconds
        ):
            return HealthStatus.OFFLINE
        return self.status


class RecordingSegment(BaseModel):
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="segments")
    start_at = models.DateTimeField()
    duration_s = models.FloatField()
    # Relative to the kitchen directory, e.g. "streams/<camera>/rec/20261123T080000Z.ts".
    file = models.CharField(max_length=300)
    size_bytes = models.BigIntegerField()

    scope_lookups = _via("camera__canteen")

    class Meta:
        ordering = ["camera", "start_at"]
        constraints = [
            models.UniqueConstraint(fields=["camera", "start_at"], name="kitchen_segment_start_unique"),
        ]

    def __str__(self) -> str:
        return self.file


class Alarm(BaseModel):
    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="alarms")
    kind = models.CharField(max_length=60, db_index=True)
    at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=14, choices=AlarmStatus.choices, default=AlarmStatus.OPEN)
    score = models.FloatField(default=0)
    detail = models.JSONField(default=dict, blank=True)
    snapshot = models.CharField(max_length=300, blank=True)  # relative to the kitchen directory
    clip = models.CharField(max_length=300, blank=True)

    scope_lookups = _via("camera__canteen")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["camera", "kind", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class AlarmTransition(BaseModel):
    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=14, blank=True)
    to_status = models.CharField(max_length=14)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    scope_lookups = _via("alarm__camera__canteen")

    class Meta:
        ordering = ["created_at"]


class KitchenSchedule(BaseModel):
    """Working hours (motion outside them is an alarm) and the meals this canteen serves
    (a food sample is expected after each)."""

    canteen = models.OneToOneField("org.Canteen", on_delete=models.CASCADE, related_name="kitchen_schedule")
    work_start = models.TimeField(default=time(5, 30))
    work_end = models.TimeField(default=time(19, 30))
    work_days = models.JSONField(default=list, help_text="0=Monday … 6=Sunday")
    meals = models.JSONField(default=list, help_text='e.g. ["breakfast", "lunch"]')
    # This campus's deadlines for its daily records, overriding kitchen.tasks.DEFAULT_DEADLINES:
    # {"morning_check": "07:00", "disinfection": 90, "food_sample": 60, "accompany": 120}
    # (a time of day, or minutes after the meal ends).
    record_deadlines = models.JSONField(default=dict, blank=True)

    scope_lookups = _via("canteen")

    def __str__(self) -> str:
        return f"{self.canteen_id} {self.work_start}-{self.work_end}"


# --- daily food-safety records ------------------------------------------------------------


class KitchenStaff(BaseModel):
    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="kitchen_staff")
    name = models.CharField(max_length=40)
    position = models.CharField(max_length=40, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    health_certificate_no = models.CharField(max_length=40, blank=True)
    health_certificate_expires = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)

    scope_lookups = _via("canteen")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["canteen", "name"], name="kitchen_staff_name_unique")]

    def __str__(self) -> str:
        return self.name


class MorningCheck(BaseModel):
    """晨检: one per staff member per day; unfit means off duty for the whole day."""

    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(KitchenStaff, on_delete=models.PROTECT, related_name="checks")
    day = models.DateField()
    temperature_c = models.DecimalField(max_digits=3, decimal_places=1)
    symptoms = models.JSONField(default=list, blank=True)
    fit = models.BooleanField()
    note = models.CharField(max_length=200, blank=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    checked_at = models.DateTimeField(default=timezone.now)

    scope_lookups = _via("canteen")

    class Meta:
        ordering = ["-day", "staff__name"]
        constraints = [models.UniqueConstraint(fields=["staff", "day"], name="kitchen_one_check_per_day")]


class FoodSample(BaseModel):
    """留样: every dish of every meal, ≥ 125 g, kept ≥ 48 h, with who and when."""

    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    meal = models.CharField(max_length=10, choices=Meal.choices)
    dish_name = models.CharField(max_length=80)
    dish_ref = models.UUIDField(null=True, blank=True, help_text="meals.Dish id when known")
    weight_g = models.PositiveIntegerField()
    sampled_at = models.DateTimeField()
    sampler_name = models.CharField(max_length=40)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    storage = models.CharField(max_length=60, blank=True, help_text="留样柜 fridge")
    keep_until = models.DateTimeField()
    discarded_at = models.DateTimeField(null=True, blank=True)
    discarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = _via("canteen")

    class Meta:
        ordering = ["-day", "meal", "dish_name"]
        constraints = [
            models.UniqueConstraint(fields=["canteen", "day", "meal", "dish_name"], name="kitchen_one_sample_per_dish"),
        ]


class DisinfectionRecord(BaseModel):
    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    target = models.CharField(max_length=12, choices=DisinfectionTarget.choices)
    method = models.CharField(max_length=18, choices=DisinfectionMethod.choices)
    started_at = models.DateTimeField()
    duration_min = models.PositiveSmallIntegerField()
    temperature_c = models.PositiveSmallIntegerField(null=True, blank=True)
    concentration_mg_l = models.PositiveSmallIntegerField(null=True, blank=True)
    quantity = models.CharField(max_length=60, blank=True)
    operator_name = models.CharField(max_length=40)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    scope_lookups = _via("canteen")

    class Meta:
        ordering = ["-started_at"]


class AccompaniedMeal(BaseModel):
    """陪餐: a school leader eats with the students and records what they found."""

    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    meal = models.CharField(max_length=10, choices=Meal.choices)
    leader_name = models.CharField(max_length=40)
    leader_title = models.CharField(max_length=40, blank=True)
    taste_score = models.PositiveSmallIntegerField()
    hygiene_score = models.PositiveSmallIntegerField()
    portion_score = models.PositiveSmallIntegerField()
    comments = models.TextField()
    issues = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    scope_lookups = _via("canteen")

    class Meta:
        ordering = ["-day", "meal"]


class WasteDisposal(BaseModel):
    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=12, choices=WasteKind.choices)
    weight_kg = models.DecimalField(max_digits=7, decimal_places=2)
    collector_company = models.CharField(max_length=80)
    collector_name = models.CharField(max_length=40, blank=True)
    receipt_no = models.CharField(max_length=40, blank=True)
    disposed_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    scope_lookups = _via("canteen")

    class Meta:
        ordering = ["-disposed_at"]


class MissingRecordAlert(BaseModel):
    """Raised once per canteen, day, meal and kind; the unique key makes the sweep idempotent."""

    canteen = models.ForeignKey("org.Canteen", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=RecordKind.choices)
    day = models.DateField()
    meal = models.CharField(max_length=10, choices=Meal.choices)
    detail = models.JSONField(default=dict, blank=True)

    scope_lookups = _via("canteen")

    class Meta:
        ordering = ["-day", "meal"]
        constraints = [
            models.UniqueConstraint(fields=["canteen", "kind", "day", "meal"], name="kitchen_missing_once"),
        ]
