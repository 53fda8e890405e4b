"""What a pupil's leaving or campus move means for face data and credentials (issue 21).

Kept apart from services.py so the organisation's life events can call one function per step."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.events import publish
from canteen.org.models import Student

from .models import DisplayPhoto, FaceConsent, FaceTemplate, PinCredential, QrCredential
from .services import _bump_gallery_version, _org


@transaction.atomic
def identity_purge_for_leaver(*, student: Student, actor: Any, reason: str) -> dict[str, int]:
    """Withdraw the face consent (the row stays as evidence), delete every template and the kept
    photo, revoke QR cards and delete the PIN, and move the campus gallery version so terminals
    drop the pupil. The caller (org.life.student_leave) has checked the actor may do this."""
    now = timezone.now()
    consents = FaceConsent.objects.select_for_update().filter(student=student, withdrawn_at__isnull=True)
    withdrawn = consents.update(
        withdrawn_at=now,
        withdrawn_by=actor if getattr(actor, "pk", None) else None,
        withdrawal_reason=reason[:200],
        updated_at=now,
    )
    templates, _ = FaceTemplate.objects.filter(student=student).delete()
    photos, _ = DisplayPhoto.objects.filter(student=student).delete()
    cards = QrCredential.objects.filter(student=student, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor if getattr(actor, "pk", None) else None, updated_at=now
    )
    pins, _ = PinCredential.objects.filter(student=student).delete()
    counts = {
        "consents_withdrawn": withdrawn,
        "templates_deleted": templates,
        "photos_deleted": photos,
        "qr_revoked": cards,
        "pins_deleted": pins,
    }
    if withdrawn or templates or photos:
        version = _bump_gallery_version(student.campus_id)
        publish(
            "identity.face_withdrawn",
            {"student_id": str(student.pk), "campus_id": str(student.campus_id), "gallery_version": version},
        )
    audit_record(
        actor=actor,
        action="identity.leaver_purged",
        target=student,
        after={**counts, "reason": reason},
        **_org(student),
    )
    return counts


def identity_campus_moved(*, student: Student, from_campus_id: Any) -> None:
    """Consent and templates follow the pupil inside the district (the consent says: stored on
    the district server, sent to the terminals of the pupil's campus). Both campus galleries
    change, so both sets of terminals refresh: the old one drops the pupil, the new one adds them."""
    if not FaceTemplate.objects.filter(student=student).exists():
        return
    _bump_gallery_version(student.campus_id)  # the new campus's terminals add them at their next check
    version = _bump_gallery_version(from_campus_id)
    # The old campus's connected terminals drop the pupil at once.
    publish(
        "identity.face_withdrawn",
        {"student_id": str(student.pk), "campus_id": str(from_campus_id), "gallery_version": version},
    )
