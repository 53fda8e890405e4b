"""Writes to the organisation. Each is audited."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from canteen.core.audit import audit_record
from canteen.core.errors import Conflict, Forbidden, ValidationFailed

from .choices import Relation, Role, StudentStatus
from .models import Campus, Guardian, GuardianLink, SchoolClass, Student, User


def _check_can_manage_campus(actor: User, campus: Campus) -> None:
    if not Campus.objects.visible_to(actor).filter(pk=campus.pk).exists() or actor.role == Role.GUARDIAN:
        raise Forbidden("无权管理该校区的学生", "You may not manage students of this campus")


@transaction.atomic
def student_enrol(
    *,
    actor: User,
    campus: Campus,
    school_class: SchoolClass,
    student_number: str,
    name: str,
    gender: str,
    birth_date: date,
    nutrition_programme: bool = False,
) -> Student:
    _check_can_manage_campus(actor, campus)
    if school_class.campus_id != campus.pk:
        raise ValidationFailed("班级不属于该校区", "The class does not belong to this campus")
    name = name.strip()
    if not name or len(name) > 40:
        raise ValidationFailed("姓名须为 1–40 个字符", "The name must be 1–40 characters")
    if Student.objects.filter(campus=campus, student_number=student_number).exists():
        raise Conflict("学号已存在", "This student number already exists", code="student_number_taken")
    student = Student.objects.create(
        campus=campus,
        school_class=school_class,
        student_number=student_number,
        name=name,
        gender=gender,
        birth_date=birth_date,
        nutrition_programme=nutrition_programme,
    )
    audit_record(
        actor=actor,
        action="student.enrol",
        target=student,
        after={"student_number": student_number, "class": str(school_class)},
        district_id=campus.school.district_id,
        school_id=campus.school_id,
    )
    return student


@transaction.atomic
def student_set_status(*, actor: User, student: Student, status: str) -> Student:
    _check_can_manage_campus(actor, student.campus)
    if status not in StudentStatus.values:
        raise ValidationFailed("未知的学籍状态", "Unknown student status")
    before = student.status
    student.status = status
    student.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="student.status",
        target=student,
        before={"status": before},
        after={"status": status},
        school_id=student.campus.school_id,
        district_id=student.campus.school.district_id,
    )
    return student


@transaction.atomic
def guardian_link(
    *, actor: User, guardian: Guardian, student: Student, relation: str = Relation.OTHER, is_primary: bool = False
) -> GuardianLink:
    _check_can_manage_campus(actor, student.campus)
    link, created = GuardianLink.objects.get_or_create(
        guardian=guardian, student=student, defaults={"relation": relation, "is_primary": is_primary}
    )
    if created:
        audit_record(
            actor=actor,
            action="guardian.link",
            target=link,
            after={"guardian": str(guardian.pk), "student": str(student.pk), "relation": relation},
            school_id=student.campus.school_id,
            district_id=student.campus.school.district_id,
        )
    return link
