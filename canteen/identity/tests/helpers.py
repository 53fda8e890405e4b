"""Test helpers: give a student a guardian account, and enrol a student through the services."""

from __future__ import annotations

from datetime import date

from canteen.org.choices import Relation, Role
from canteen.org.models import Guardian, GuardianLink, Student, User
from canteen.org.tests.factories import make_user


def guardian_user_of(student: Student) -> User:
    """The student's guardian account, created on first use."""
    link = student.guardian_links.select_related("guardian__user").first()
    if link is None:
        guardian = Guardian.objects.create(name=f"{student.name}家长", phone="13900000000")
        link = GuardianLink.objects.create(
            guardian=guardian, student=student, relation=Relation.FATHER, is_primary=True
        )
    guardian = link.guardian
    if guardian.user is None:
        guardian.user = make_user(f"g-{student.student_number}", Role.GUARDIAN)
        guardian.save(update_fields=["user"])
    return guardian.user


def add_students(campus, school_class, names: list[str], prefix: str = "X") -> list[Student]:
    return [
        Student.objects.create(
            campus=campus,
            school_class=school_class,
            student_number=f"{prefix}{i:04d}",
            name=name,
            gender="f",
            birth_date=date(2015, 5, 17),
        )
        for i, name in enumerate(names, start=1)
    ]


def consent_and_enrol(student: Student, photo: bytes, *, keep_display_photo: bool = False):
    from canteen.identity.models import TemplateSource
    from canteen.identity.services import consent_give, face_enrol

    parent = guardian_user_of(student)
    consent_give(student=student, actor=parent, keep_display_photo=keep_display_photo)
    return face_enrol(
        student=student,
        actor=parent,
        photos=[photo],
        source=TemplateSource.GUARDIAN_UPLOAD,
        keep_photo=keep_display_photo,
    )
