"""Traceability: trace codes on accepted batches, transport tracks (GPS + temperature from the
supplier's vehicle or app), cold-chain breaks, the EPCIS event store, and recalls.

Batches, deliveries and suppliers belong to procurement; trace hangs its own rows on them and
never writes theirs. Org scope is denormalised (`district`, `campus`) so the large tables can be
partitioned by district and by date."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from canteen.core.models import BaseModel
from canteen.org.models import Campus, District

from .choices import DeviceKind, RecallStatus, TempProfile

_BATCH_SCOPE = {
    "city": "district__city_id",
    "district": "district_id",
    "school": "campus__school_id",
    "campus": "campus_id",
    "supplier": "batch__supplier__members__user_id",
}


class TraceCode(BaseModel):
    """The code printed on a batch's QR label. `code` is random (50 bits): a scan URL cannot be
    guessed from another; `gtin` + `lot` give the GS1 Digital Link form of the same batch."""

    batch = models.OneToOneField("procurement.Batch", on_delete=models.PROTECT, related_name="trace_code")
    code = models.CharField(max_length=16, unique=True)
    gtin = models.CharField(max_length=14)
    lot = models.CharField(max_length=20)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="+")
    scans = models.PositiveIntegerField(default=0)

    scope_lookups = _BATCH_SCOPE

    class Meta:
        indexes = [models.Index(fields=["gtin", "lot"]), models.Index(fields=["district", "created_at"])]

    def __str__(self) -> str:
        return self.code


class TransportDevice(BaseModel):
    """A supplier's vehicle tracker or phone app. Only a hash of its token is stored."""

    supplier = models.ForeignKey("procurement.Supplier", on_delete=models.PROTECT, related_name="trace_devices")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=10, choices=DeviceKind.choices, default=DeviceKind.VEHICLE)
    token_hash = models.CharField(max_length=64, unique=True)
    token_hint = models.CharField(max_length=8, help_text="first characters, to tell tokens apart")
    is_active = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.BigIntegerField(default=0)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "supplier": "supplier__members__user_id",
    }

    def __str__(self) -> str:
        return self.name


class TransportTrack(BaseModel):
    """One trip of one device carrying one delivery."""

    device = models.ForeignKey(TransportDevice, on_delete=models.PROTECT, related_name="tracks")
    delivery = models.ForeignKey(
        "procurement.Delivery", null=True, blank=True, on_delete=models.PROTECT, related_name="trace_tracks"
    )
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    campus = models.ForeignKey(Campus, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    trip_ref = models.CharField(max_length=40)
    profile = models.CharField(max_length=10, choices=TempProfile.choices, default=TempProfile.AMBIENT)
    min_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    max_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    point_count = models.PositiveIntegerField(default=0)
    break_count = models.PositiveIntegerField(default=0)

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
        "supplier": "device__supplier__members__user_id",
    }

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "trip_ref"], name="trace_track_trip_unique")]

    def __str__(self) -> str:
        return f"{self.device} {self.trip_ref}"


class TrackPoint(models.Model):
    """A GPS fix with an optional temperature. (device, seq) is unique: a device resending a
    batch of points after a timeout adds nothing twice."""

    id = models.BigAutoField(primary_key=True)
    track = models.ForeignKey(TransportTrack, on_delete=models.CASCADE, related_name="points")
    device = models.ForeignKey(TransportDevice, on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()
    at = models.DateTimeField()
    lat = models.DecimalField(max_digits=9, decimal_places=6)
    lon = models.DecimalField(max_digits=9, decimal_places=6)
    temperature_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    speed_kmh = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "seq"]
        constraints = [models.UniqueConstraint(fields=["device", "seq"], name="trace_point_device_seq_unique")]
        indexes = [models.Index(fields=["track", "at"])]

    def __str__(self) -> str:
        return f"{self.device_id}#{self.seq}"


class ColdChainBreak(BaseModel):
    """A stretch of a trip outside the temperature range of what it carried, longer than the
    tolerated excursion. Recomputed from the points whenever new points arrive."""

    track = models.ForeignKey(TransportTrack, on_delete=models.CASCADE, related_name="breaks")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    minutes = models.PositiveIntegerField()
    worst_c = models.DecimalField(max_digits=4, decimal_places=1)
    limit_c = models.DecimalField(max_digits=4, decimal_places=1)

    scope_lookups = {
        "city": "track__district__city_id",
        "district": "track__district_id",
        "school": "track__campus__school_id",
        "campus": "track__campus_id",
    }

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.track} {self.started_at:%H:%M}+{self.minutes}min"


class EpcisEvent(BaseModel):
    """One stored GS1 EPCIS 2.0 event, as captured by the platform or imported. `body` is the
    event exactly as exchanged; the columns beside it are for querying.

    Append-only: no row is ever updated or replaced. A correction is EPCIS's error declaration:
    a second row with the same eventID and `declares_error` set, stored beside the original."""

    event_id = models.CharField(max_length=500)
    declares_error = models.BooleanField(default=False)
    event_type = models.CharField(max_length=24)
    event_time = models.DateTimeField(db_index=True)
    biz_step = models.CharField(max_length=120, blank=True)
    body = models.JSONField()
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    codes = models.ManyToManyField(TraceCode, related_name="epcis_events", blank=True)
    imported = models.BooleanField(default=False)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {"city": "district__city_id", "district": "district_id"}

    class Meta:
        ordering = ["event_time", "event_id"]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "declares_error"], name="trace_epcis_event_once"),
        ]
        indexes = [models.Index(fields=["district", "event_time"], name="trace_epcis_district_time")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.biz_step} {self.event_time:%Y-%m-%d %H:%M}"


class EpcisCapture(BaseModel):
    """One `POST /capture` of the EPCIS REST binding and its outcome, for `GET /capture/{id}`."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    success = models.BooleanField(default=False)
    events = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    scope_lookups = {"city": "district__city_id", "district": "district_id", "supplier": "created_by_id"}

    def __str__(self) -> str:
        return f"capture {self.pk} {'ok' if self.success else 'failed'}"


class Gs1Key(BaseModel):
    """A GS1 key a party registered for something the platform names: a supplier's or producer's
    GLN, a producer's GTIN for a catalogue item, a campus's or district's GLN. What has none is
    numbered internally (see gs1.py)."""

    KIND_GLN = "gln"
    KIND_GTIN = "gtin"

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=4, choices=[("gln", "GLN"), ("gtin", "GTIN")])
    # "district:<id>", "campus:<id>", "supplier:<id>", "producer:<name>", "product:<item id>:<producer>"
    subject = models.CharField(max_length=200)
    number = models.CharField(max_length=14)
    company_prefix_length = models.PositiveSmallIntegerField(default=7)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {"city": "district__city_id", "district": "district_id"}

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "kind", "subject"], name="trace_gs1_key_subject_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.number} {self.subject}"


class Recall(BaseModel):
    """A recall of one batch: the affected campuses, days and dishes are frozen at the moment it
    is raised so the notice stays what was sent."""

    code = models.ForeignKey(TraceCode, on_delete=models.PROTECT, related_name="recalls")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=RecallStatus.choices, default=RecallStatus.OPEN)
    affected = models.JSONField(default=dict)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "campuses__campus__school_id",
        "campus": "campuses__campus_id",
    }

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.code} {self.reason}"


class RecallCampus(BaseModel):
    """One affected campus of a recall: what was quarantined there, its supervision case, and its
    confirmation that the goods are off the shelves (a recall closes when every campus confirmed)."""

    recall = models.ForeignKey(Recall, on_delete=models.CASCADE, related_name="campuses")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="+")
    case_id = models.UUIDField(null=True, blank=True)
    quarantined = models.JSONField(default=dict)  # {batch id: quantity on hand when quarantined}
    pupils = models.PositiveIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    scope_lookups = {
        "city": "recall__district__city_id",
        "district": "recall__district_id",
        "school": "campus__school_id",
        "campus": "campus_id",
    }

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recall", "campus"], name="trace_recall_campus_once")]

    def __str__(self) -> str:
        return f"{self.recall_id} {self.campus_id}"
