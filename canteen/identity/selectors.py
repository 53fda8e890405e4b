"""Reads of identity data. Every read that decrypts a template or photo writes an audit event."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Count, Exists, OuterRef, Q

from canteen.core.audit import audit_record
from canteen.core.errors import Forbidden
from canteen.org.choices import REGULATOR_ROLES, Role, StudentStatus
from canteen.org.models import Campus, SchoolClass, Student

from . import crypto
from .access import is_guardian_of, is_staff_of_campus, require_guardian_or_staff
from .gallery import Gallery, Thresholds
from .models import DisplayPhoto, FaceConsent, FaceTemplate, GalleryState, PinCredential, QrCredential

logger = logging.getLogger(__name__)
_cache_lock = threading.Lock()
_gallery_cache: dict[str, Gallery] = {}


def gallery_version(*, campus: Campus) -> int:
    """Bumped on every enrolment and withdrawal in the campus; terminals compare it with the
    version of the package they hold."""
    return GalleryState.objects.filter(campus=campus).values_list("version", flat=True).first() or 0


def has_face_consent(*, student: Student) -> bool:
    return FaceConsent.objects.filter(student=student, withdrawn_at__isnull=True).exists()


def active_consent(*, student: Student) -> FaceConsent | None:
    return FaceConsent.objects.filter(student=student, withdrawn_at__isnull=True).first()


def _audit_template_access(*, actor: Any, campus: Campus, purpose: str, count: int, version: int) -> None:
    audit_record(
        actor=actor,
        action="identity.templates_accessed",
        target=campus,
        after={"purpose": purpose, "templates": count, "gallery_version": version},
        district_id=campus.school.district_id,
        school_id=campus.school_id,
    )


def _build_gallery(campus: Campus, version: int) -> Gallery:
    rows = (
        FaceTemplate.objects.filter(
            student__campus=campus,
            student__status=StudentStatus.ENROLLED,
            consent__withdrawn_at__isnull=True,
        )
        .order_by("student_id", "created_at")
        .values_list("student_id", "sealed")
    )
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    corrupt: list[str] = []
    for student_id, sealed in rows.iterator(chunk_size=2000):
        try:
            vectors.append(crypto.open_embedding(sealed, student_id=str(student_id)))
        except ValueError:
            # Altered, moved to another student, or sealed under another key: leave that child
            # out (they fall back to QR/PIN) rather than stop the whole campus's windows.
            corrupt.append(str(student_id))
            continue
        ids.append(str(student_id))
    if corrupt:
        logger.error("face templates failing authentication on campus %s: %s", campus.pk, corrupt)
        audit_record(
            actor=None,
            action="identity.templates_corrupt",
            target=campus,
            after={"student_ids": corrupt},
            district_id=campus.school.district_id,
            school_id=campus.school_id,
        )
    matrix = np.stack(vectors) if vectors else np.zeros((0, 128), np.float32)
    return Gallery.from_templates(
        ids, matrix, thresholds=Thresholds.from_settings(), version=version, campus_id=str(campus.pk)
    )


def gallery_for_campus(*, campus: Campus, actor: Any, purpose: str) -> Gallery:
    """The decrypted gallery of consented, enrolled students of the campus.

    `actor` is staff of that campus (or school), a superuser, or None for a system process such
    as the server-side terminal; each call is audited with its purpose. Decryption happens only
    when the campus's gallery version moved (enrolment or withdrawal), in any process."""
    if actor is not None and not is_staff_of_campus(actor, campus):
        raise Forbidden("无权读取本校区的人脸库", "You may not read this campus's face gallery")
    version = gallery_version(campus=campus)
    key = str(campus.pk)
    with _cache_lock:
        cached = _gallery_cache.get(key)
    if cached is None or cached.version != version:
        # Version is read before the templates: a change racing with this build leaves the
        # cache one version behind, so the next call rebuilds; never the other way round.
        cached = _build_gallery(campus, version)
        with _cache_lock:
            _gallery_cache[key] = cached
    _audit_template_access(actor=actor, campus=campus, purpose=purpose, count=len(cached), version=version)
    return cached


def gallery_cache_invalidate(*, campus_id: Any) -> None:
    with _cache_lock:
        _gallery_cache.pop(str(campus_id), None)


def display_photo_jpeg(*, student: Student, actor: Any) -> bytes | None:
    """The photo a guardian opted to keep, for the window screen or the guardian; audited."""
    if actor is not None:
        require_guardian_or_staff(actor, student)
    photo = DisplayPhoto.objects.filter(student=student, consent__withdrawn_at__isnull=True).first()
    if photo is None:
        return None
    audit_record(
        actor=actor,
        action="identity.display_photo_accessed",
        target=student,
        district_id=student.campus.school.district_id,
        school_id=student.campus.school_id,
    )
    return crypto.open_sealed(photo.sealed_jpeg, bound_to=f"display-photo:{student.pk}")


@dataclass(frozen=True)
class StudentIdentityStatus:
    student: Student
    consent: FaceConsent | None
    template_count: int
    has_qr: bool
    has_pin: bool
    pin_locked: bool

    @property
    def face_ready(self) -> bool:
        return self.consent is not None and self.template_count > 0

    @property
    def status_code(self) -> str:
        if self.consent is None:
            return "no_consent"
        return "enrolled" if self.template_count else "consented"


def students_status(*, actor: Any, students) -> list[StudentIdentityStatus]:
    from django.utils import timezone

    students = list(students)
    ids = [s.pk for s in students]
    consents = {c.student_id: c for c in FaceConsent.objects.filter(student_id__in=ids, withdrawn_at__isnull=True)}
    counts = dict(
        FaceTemplate.objects.filter(student_id__in=ids, consent__withdrawn_at__isnull=True)
        .values("student_id")
        .annotate(n=Count("id"))
        .values_list("student_id", "n")
    )
    qrs = set(
        QrCredential.objects.filter(student_id__in=ids, revoked_at__isnull=True).values_list("student_id", flat=True)
    )
    now = timezone.now()
    pins = {p.student_id: p for p in PinCredential.objects.filter(student_id__in=ids)}
    return [
        StudentIdentityStatus(
            student=s,
            consent=consents.get(s.pk),
            template_count=counts.get(s.pk, 0),
            has_qr=s.pk in qrs,
            has_pin=s.pk in pins,
            pin_locked=bool(s.pk in pins and pins[s.pk].locked_until and pins[s.pk].locked_until > now),
        )
        for s in students
    ]


def class_enrolment_status(*, school_class: SchoolClass, actor: Any) -> list[StudentIdentityStatus]:
    """Staff view of one class: who consented, who is enrolled, who uses QR or PIN."""
    if not is_staff_of_campus(actor, school_class.campus):
        raise Forbidden("无权查看该班级", "You may not view this class")
    students = (
        Student.objects.visible_to(actor)
        .filter(school_class=school_class, status=StudentStatus.ENROLLED)
        .select_related("school_class", "campus")
    )
    return students_status(actor=actor, students=students)


def classes_for_staff(*, actor: Any) -> list[SchoolClass]:
    if actor is None or not (
        actor.is_superuser
        or getattr(actor, "role", None) in (Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER, Role.WINDOW_OPERATOR)
    ):
        return []
    return list(
        SchoolClass.objects.visible_to(actor)
        .select_related("campus", "campus__school")
        .order_by("campus__code", "grade", "name")
    )


def children_of_guardian(*, actor: Any) -> list[StudentIdentityStatus]:
    if getattr(actor, "role", None) != Role.GUARDIAN:
        return []
    students = Student.objects.visible_to(actor).select_related("school_class", "campus", "campus__school")
    return students_status(actor=actor, students=students)


def consent_statistics(*, actor: Any) -> list[dict]:
    """Per campus: students, with active consent, enrolled, withdrawn so far. For regulators and
    school admins; counts only, never a template or a name."""
    role = getattr(actor, "role", None)
    if not (getattr(actor, "is_superuser", False) or role in REGULATOR_ROLES or role == Role.SCHOOL_ADMIN):
        raise Forbidden("无权查看统计", "You may not view these statistics")
    active = FaceConsent.objects.filter(student=OuterRef("pk"), withdrawn_at__isnull=True)
    withdrawn = FaceConsent.objects.filter(student=OuterRef("pk"), withdrawn_at__isnull=False)
    enrolled = FaceTemplate.objects.filter(student=OuterRef("pk"), consent__withdrawn_at__isnull=True)
    rows = (
        Student.objects.visible_to(actor)
        .filter(status=StudentStatus.ENROLLED)
        .values("campus_id", "campus__name", "campus__school__name")
        .annotate(
            students=Count("id"),
            consented=Count("id", filter=Q(Exists(active))),
            enrolled=Count("id", filter=Q(Exists(enrolled))),
            withdrawn=Count("id", filter=Q(Exists(withdrawn)) & ~Q(Exists(active))),
        )
        .order_by("campus__school__name", "campus__name")
    )
    return [
        {
            "campus_id": str(r["campus_id"]),
            "campus": f"{r['campus__school__name']}·{r['campus__name']}",
            "students": r["students"],
            "consented": r["consented"],
            "enrolled": r["enrolled"],
            "withdrawn": r["withdrawn"],
        }
        for r in rows
    ]


def student_for(*, actor: Any, student_id: Any) -> Student:
    """A student the actor may see (guardian: own children; staff: their school/campus)."""
    from .errors import StudentNotFound

    student = (
        Student.objects.visible_to(actor)
        .select_related("campus", "campus__school", "school_class")
        .filter(pk=student_id)
        .first()
    )
    if student is None:
        raise StudentNotFound()
    return student


def campus_for(*, actor: Any, campus_id: Any) -> Campus:
    from canteen.core.errors import NotFound

    campus = Campus.objects.visible_to(actor).select_related("school").filter(pk=campus_id).first()
    if campus is None:
        raise NotFound("未找到校区", "Campus not found")
    return campus


def class_for(*, actor: Any, class_id: Any) -> SchoolClass:
    from canteen.core.errors import NotFound

    klass = SchoolClass.objects.visible_to(actor).select_related("campus", "campus__school").filter(pk=class_id).first()
    if klass is None:
        raise NotFound("未找到班级", "Class not found")
    return klass


def is_guardian(actor: Any, student: Student) -> bool:
    return is_guardian_of(actor, student)
