"""Face-recognition consent, encrypted templates, and the alternatives (QR card, PIN).

Templates and kept photos are stored only as AES-GCM ciphertext (see crypto.py) and are never
registered in the admin or serialized by an API; services decrypt them for a gallery and audit it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from canteen.core.models import BaseModel

STUDENT_SCOPE = {
    "city": "student__campus__school__district__city_id",
    "district": "student__campus__school__district_id",
    "school": "student__campus__school_id",
    "campus": "student__campus_id",
    "guardian": "student__guardian_links__guardian__user_id",
}


class FaceConsent(BaseModel):
    """A guardian's separate consent (PIPL art. 29/31: a child under 14 needs a guardian's separate
    consent for sensitive personal information). Withdrawal keeps the row as evidence of what was
    agreed and when it ended; the templates themselves are deleted."""

    student = models.ForeignKey("org.Student", on_delete=models.CASCADE, related_name="face_consents")
    guardian = models.ForeignKey("org.Guardian", on_delete=models.PROTECT, related_name="face_consents")
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    given_at = models.DateTimeField(default=timezone.now)
    text_version = models.CharField(max_length=20)
    text_sha256 = models.CharField(max_length=64)
    storage_statement = models.CharField(max_length=200)
    keep_display_photo = models.BooleanField(default=False)
    withdrawn_at = models.DateTimeField(null=True, blank=True, db_index=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawal_reason = models.CharField(max_length=200, blank=True)

    scope_lookups = STUDENT_SCOPE

    class Meta:
        ordering = ["-given_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["student"], condition=Q(withdrawn_at__isnull=True), name="one_active_face_consent_per_student"
            )
        ]

    def __str__(self) -> str:
        state = "withdrawn" if self.withdrawn_at else "active"
        return f"face consent {self.student_id} ({state})"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class TemplateSource(models.TextChoices):
    GUARDIAN_UPLOAD = "guardian_upload", "家长上传 Guardian upload"
    STAFF_CAPTURE = "staff_capture", "老师采集 Staff capture"


class FaceTemplate(BaseModel):
    """One 128-d template, sealed with AES-GCM bound to the student id."""

    student = models.ForeignKey("org.Student", on_delete=models.CASCADE, related_name="face_templates")
    consent = models.ForeignKey(FaceConsent, on_delete=models.CASCADE, related_name="templates")
    sealed = models.BinaryField()
    source = models.CharField(max_length=20, choices=TemplateSource.choices)
    face_px = models.PositiveIntegerField(default=0)
    detector_score = models.FloatField(default=0.0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = STUDENT_SCOPE

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["student", "created_at"])]

    def __str__(self) -> str:  # never the template itself
        return f"face template of {self.student_id}"

    def __repr__(self) -> str:
        return f"<FaceTemplate {self.pk} student={self.student_id}>"


class DisplayPhoto(BaseModel):
    """The one photo a guardian opted to keep for display at the window, sealed like a template."""

    student = models.OneToOneField("org.Student", on_delete=models.CASCADE, related_name="display_photo")
    consent = models.ForeignKey(FaceConsent, on_delete=models.CASCADE, related_name="display_photos")
    sealed_jpeg = models.BinaryField()

    scope_lookups = STUDENT_SCOPE

    def __str__(self) -> str:
        return f"display photo of {self.student_id}"


class GalleryState(models.Model):
    """Per-campus gallery version: bumped on every enrolment and withdrawal so the server cache and
    the window terminals can tell that their copy is stale."""

    campus = models.OneToOneField("org.Campus", on_delete=models.CASCADE, primary_key=True, related_name="+")
    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"gallery {self.campus_id} v{self.version}"


class QrCredential(BaseModel):
    """A printed card or phone QR code. The token is a signature over this row's id; revoking the
    row (or issuing a new one) invalidates every copy of the old card."""

    student = models.ForeignKey("org.Student", on_delete=models.CASCADE, related_name="qr_credentials")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    scope_lookups = STUDENT_SCOPE

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["student"], condition=Q(revoked_at__isnull=True), name="one_active_qr_per_student"
            )
        ]

    def __str__(self) -> str:
        return f"QR card of {self.student_id}"


class PinCredential(BaseModel):
    student = models.OneToOneField("org.Student", on_delete=models.CASCADE, related_name="pin_credential")
    pin_hash = models.CharField(max_length=200)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = STUDENT_SCOPE

    def __str__(self) -> str:
        return f"PIN of {self.student_id}"
