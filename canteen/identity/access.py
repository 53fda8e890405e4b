"""Who may do what with a student's face data and credentials.

- guardians: only their own children (consent, enrolment, withdrawal, PIN, QR);
- school admins (their school) and canteen managers / window operators (their campus): enrol by
  staff capture, issue QR cards and PINs, read the campus gallery for the terminals;
- regulators: consent statistics only, never templates or photos;
- storekeepers and suppliers: nothing here.
"""

from __future__ import annotations

from typing import Any

from canteen.core.errors import Forbidden
from canteen.org.choices import Role
from canteen.org.models import Campus, GuardianLink, Student

from .errors import NotGuardianOfStudent

STAFF_ROLES = frozenset({Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER, Role.WINDOW_OPERATOR})


def is_guardian_of(actor: Any, student: Student) -> bool:
    if actor is None or getattr(actor, "role", None) != Role.GUARDIAN:
        return False
    return GuardianLink.objects.filter(student=student, guardian__user=actor).exists()


def is_staff_of_campus(actor: Any, campus: Campus) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.is_superuser:
        return True
    role = getattr(actor, "role", None)
    if role == "terminal":
        # A window terminal (consumption's TerminalPrincipal) downloads its own campus's gallery.
        terminal = getattr(actor, "terminal", None)
        return terminal is not None and terminal.is_active and terminal.campus_id == campus.pk
    if role == Role.SCHOOL_ADMIN:
        return actor.school_id is not None and actor.school_id == campus.school_id
    if role in (Role.CANTEEN_MANAGER, Role.WINDOW_OPERATOR):
        return actor.campus_id is not None and actor.campus_id == campus.pk
    return False


def require_staff(actor: Any, campus: Campus) -> None:
    if not is_staff_of_campus(actor, campus):
        raise Forbidden(
            "仅本校区的学校管理员或食堂人员可操作", "Only school or canteen staff of this campus may do this"
        )


def require_guardian(actor: Any, student: Student) -> None:
    if not is_guardian_of(actor, student):
        raise NotGuardianOfStudent()


def require_guardian_or_staff(actor: Any, student: Student) -> None:
    if not (is_guardian_of(actor, student) or is_staff_of_campus(actor, student.campus)):
        raise Forbidden(
            "仅学生的监护人或本校区工作人员可操作", "Only the student's guardian or staff of this campus may do this"
        )
