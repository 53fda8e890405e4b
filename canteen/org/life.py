"""A pupil's life after enrolment: class change, year-end promotion, campus transfer,
suspension and reinstatement, leaving. Each is a service with an audit event.

Status machine (StudentStatus):
    enrolled ⇄ suspended;  enrolled/suspended → left;  enrolled → graduated (promotion)
Leaving and graduating are final: the pupil's meal and money history stays, their face data,
credentials and wallet do not.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from canteen.core.events import publish
from canteen.core.i18n import pair_of
from canteen.core.models import AuditEvent

from .choices import Role, SchoolStage, StudentStatus
from .models import BindingCode, Campus, School, SchoolClass, Student, User
from .roster import school_year_start

TRANSITIONS: dict[str, set[str]] = {
    StudentStatus.ENROLLED: {StudentStatus.SUSPENDED, StudentStatus.LEFT, StudentStatus.GRADUATED},
    StudentStatus.SUSPENDED: {StudentStatus.ENROLLED, StudentStatus.LEFT},
    StudentStatus.LEFT: set(),
    StudentStatus.GRADUATED: set(),
}

GRADUATING_GRADE = {
    SchoolStage.PRIMARY: 6,
    SchoolStage.JUNIOR: 9,
    SchoolStage.SENIOR: 12,
    SchoolStage.NINE_YEAR: 9,
}


def can_manage_school(actor: Any, school: School) -> bool:
    """School admins of the school, district regulators of its district, superusers."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.is_superuser:
        return True
    if actor.role == Role.SCHOOL_ADMIN:
        return actor.school_id == school.pk
    if actor.role == Role.DISTRICT_REGULATOR:
        return actor.district_id == school.district_id
    return False


def require_school_manager(actor: Any, school: School) -> None:
    if not can_manage_school(actor, school):
        raise Forbidden(
            "仅本校管理员或区管理员可办理学籍事务", "Only the school's or district's administrators may do this"
        )


def _org(student: Student) -> dict[str, Any]:
    return {"district_id": student.campus.school.district_id, "school_id": student.campus.school_id}


def _locked(student: Student) -> Student:
    return Student.objects.select_for_update().select_related("campus", "campus__school").get(pk=student.pk)


def _move(student: Student, status: str) -> str:
    before = student.status
    if status not in TRANSITIONS.get(before, set()):
        (zh_from, en_from), (zh_to, en_to) = pair_of(StudentStatus(before).label), pair_of(StudentStatus(status).label)
        raise InvalidTransition(
            f"学籍状态不能由“{zh_from}”变为“{zh_to}”", f"A pupil cannot go from {en_from} to {en_to}"
        )
    student.status = status
    return before


@transaction.atomic
def student_class_change(*, actor: User, student: Student, school_class: SchoolClass) -> Student:
    student = _locked(student)
    require_school_manager(actor, student.campus.school)
    if school_class.campus_id != student.campus_id:
        raise ValidationFailed(
            "新班级须在同一校区；跨校区请办理转校区", "The class must be on the same campus; use a campus transfer"
        )
    if student.status != StudentStatus.ENROLLED:
        raise InvalidTransition("只有在读学生可以调班", "Only an enrolled pupil can change class")
    before = student.school_class_id
    student.school_class = school_class
    student.save(update_fields=["school_class", "updated_at"])
    audit_record(
        actor=actor,
        action="student.class_change",
        target=student,
        before={"class_id": str(before)},
        after={"class_id": str(school_class.pk), "class": str(school_class)},
        **_org(student),
    )
    return student


@transaction.atomic
def student_suspend(*, actor: User, student: Student, reason: str = "") -> Student:
    """休学: no meals, no checkout (the window accepts enrolled pupils only); the wallet stays,
    and the retention job purges face data of pupils not enrolled."""
    student = _locked(student)
    require_school_manager(actor, student.campus.school)
    before = _move(student, StudentStatus.SUSPENDED)
    student.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="student.suspend",
        target=student,
        before={"status": before},
        after={"status": student.status, "reason": reason[:200]},
        **_org(student),
    )
    return student


@transaction.atomic
def student_reinstate(*, actor: User, student: Student) -> Student:
    student = _locked(student)
    require_school_manager(actor, student.campus.school)
    before = _move(student, StudentStatus.ENROLLED)
    student.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="student.reinstate",
        target=student,
        before={"status": before},
        after={"status": student.status},
        **_org(student),
    )
    return student


@transaction.atomic
def student_transfer_campus(*, actor: User, student: Student, campus: Campus, school_class: SchoolClass) -> Student:
    """Move a pupil to another campus of the district. A school admin moves pupils between the
    campuses of their school; the district moves them between schools. The pupil keeps their
    student number, wallet (balance and history), guardians, QR card and PIN; consent and face
    templates follow them (the consent names the district's server and the pupil's campus's
    terminals), and both campus galleries refresh."""
    from canteen.identity.departure import identity_campus_moved
    from canteen.ledger.student_moves import wallet_follow_campus

    student = _locked(student)
    origin = student.campus
    require_school_manager(actor, origin.school)
    require_school_manager(actor, campus.school)
    if campus.school.district_id != origin.school.district_id:
        raise ValidationFailed("只能在本区内转校区", "Transfers stay inside the district")
    if campus.pk == origin.pk:
        raise ValidationFailed("已在该校区", "The pupil is already on this campus")
    if school_class.campus_id != campus.pk:
        raise ValidationFailed("班级不属于目标校区", "The class does not belong to the new campus")
    if student.status not in (StudentStatus.ENROLLED, StudentStatus.SUSPENDED):
        raise InvalidTransition("已离校的学生不能转校区", "A pupil who left cannot transfer")
    if Student.objects.filter(campus=campus, student_number=student.student_number).exists():
        raise Conflict("目标校区已有该学籍号", "The new campus already has this student number")
    student.campus = campus
    student.school_class = school_class
    student.save(update_fields=["campus", "school_class", "updated_at"])
    balance = wallet_follow_campus(student=student, from_campus=origin, actor=actor)
    identity_campus_moved(student=student, from_campus_id=origin.pk)
    audit_record(
        actor=actor,
        action="student.transfer_campus",
        target=student,
        before={"campus_id": str(origin.pk), "school_id": str(origin.school_id)},
        after={
            "campus_id": str(campus.pk),
            "school_id": str(campus.school_id),
            "class_id": str(school_class.pk),
            "wallet_balance_fen": balance,
        },
        **_org(student),
    )
    publish(
        "org.student_transferred",
        {
            "student_id": str(student.pk),
            "from_campus_id": str(origin.pk),
            "campus_id": str(campus.pk),
            "school_id": str(campus.school_id),
        },
    )
    return student


@transaction.atomic
def student_leave(*, actor: User, student: Student, reason: str = "", status: str = StudentStatus.LEFT) -> Student:
    """离校 (or 毕业 with status=graduated). In one transaction:
    - family money paid online is refunded to its channel (ledger.payments.refunds_for_leaving,
      sent to the provider once committed); the wallet is then closed by
      ledger.services.account_close: the subsidy goes back to its fund, the rest of the family's
      money to refunds due, and the wallet takes no more postings;
    - face consent withdrawn, templates and kept photo deleted, QR cards revoked, PIN deleted;
    - binding codes revoked; guardian links kept, so the family still sees the history;
    - meals and postings are untouched (append-only), as the retention rules require;
    - `org.student_left` is published."""
    from canteen.identity.departure import identity_purge_for_leaver
    from canteen.ledger.payments.refunds import refunds_for_leaving
    from canteen.ledger.services import account_close

    if status not in (StudentStatus.LEFT, StudentStatus.GRADUATED):
        raise ValidationFailed("离校状态无效", "Leaving status must be left or graduated")
    student = _locked(student)
    require_school_manager(actor, student.campus.school)
    before = _move(student, status)
    student.save(update_fields=["status", "updated_at"])
    # Family money paid online goes back the way it came (sent to the provider after commit);
    # what is left (cash, bank) and the subsidy are settled by the wallet's closure.
    channel_refunds = refunds_for_leaving(
        student=student,
        actor=actor,
        reason=reason[:100] or "离校退款",
        idempotency_key=f"leave:{student.pk}",
        after_commit=True,
    )
    closure = account_close(
        student=student, actor=actor, idempotency_key=f"leave:{student.pk}", reason=reason[:100] or "离校销户"
    )
    purged = identity_purge_for_leaver(student=student, actor=actor, reason="student_left")
    BindingCode.objects.filter(student=student, revoked_at__isnull=True).update(revoked_at=student.updated_at)
    audit_record(
        actor=actor,
        action="student.leave",
        target=student,
        before={"status": before},
        after={
            "status": status,
            "reason": reason[:200],
            "closure_posting_id": str(closure.pk) if closure else None,
            "refund_fen": closure.amount_fen if closure else 0,
            "channel_refunds": [
                {"out_refund_no": r.out_refund_no, "amount_fen": r.amount_fen} for r in channel_refunds
            ],
            **purged,
        },
        **_org(student),
    )
    publish(
        "org.student_left",
        {
            "student_id": str(student.pk),
            "campus_id": str(student.campus_id),
            "school_id": str(student.campus.school_id),
        },
    )
    return student


# -- year-end promotion ----------------------------------------------------------------------

_GRADE_LABELS = {
    1: "一年级",
    2: "二年级",
    3: "三年级",
    4: "四年级",
    5: "五年级",
    6: "六年级",
    7: "初一",
    8: "初二",
    9: "初三",
    10: "高一",
    11: "高二",
    12: "高三",
}
_ALT_LABELS = {7: "七年级", 8: "八年级", 9: "九年级"}


def promoted_class_name(name: str, grade: int) -> str:
    """四年级2班 → 五年级2班, 初一(3)班 → 初二(3)班, 4-2 → 5-2; other names are kept."""
    for label in (_GRADE_LABELS.get(grade), _ALT_LABELS.get(grade), f"{grade}年级"):
        if label and label in name:
            nxt = _GRADE_LABELS.get(grade + 1, f"{grade + 1}年级")
            if label == _ALT_LABELS.get(grade):
                nxt = _ALT_LABELS.get(grade + 1, nxt)
            if label == f"{grade}年级":
                nxt = f"{grade + 1}年级"
            return name.replace(label, nxt, 1)
    return re.sub(rf"^{grade}(?=\D)", str(grade + 1), name)


def school_promote(*, actor: User, school: School, graduating_grade: int | None = None) -> dict[str, int]:
    """Year-end promotion of a whole school, once per school year: every class moves up a grade
    (renamed accordingly) and the pupils of the graduating grade graduate: each leaves as in
    `student_leave`, wallet closed and face data purged. All or nothing."""
    require_school_manager(actor, school)
    top = graduating_grade or GRADUATING_GRADE.get(school.stage, 6)
    year = school_year_start()
    with transaction.atomic():
        School.objects.select_for_update().filter(pk=school.pk).first()
        if AuditEvent.objects.filter(
            action="org.school_promoted", target_id=str(school.pk), after__school_year=year
        ).exists():
            raise Conflict(
                f"{year} 学年已升级过",
                f"The school was already promoted in school year {year}",
                code="already_promoted",
            )
        graduates = list(
            Student.objects.filter(
                campus__school=school,
                school_class__grade__gte=top,
                status__in=[StudentStatus.ENROLLED, StudentStatus.SUSPENDED],
            ).select_related("campus", "campus__school")
        )
        for student in graduates:
            student_leave(
                actor=actor,
                student=student,
                reason="毕业 graduated",
                status=StudentStatus.GRADUATED if student.status == StudentStatus.ENROLLED else StudentStatus.LEFT,
            )
        # The graduating classes keep their pupils' history under a name that says which year left.
        finished = list(SchoolClass.objects.filter(campus__school=school, grade__gte=top))
        for klass in finished:
            if "届" not in klass.name:
                klass.name = f"{klass.name}（{year + 1}届）"[:40]
            klass.updated_at = timezone.now()
        SchoolClass.objects.bulk_update(finished, ["name", "updated_at"])
        # Classes with pupils still enrolled move up, top grade first so names never collide.
        classes = list(
            SchoolClass.objects.filter(campus__school=school, grade__lt=top)
            .annotate(
                active=Count(
                    "students", filter=Q(students__status__in=[StudentStatus.ENROLLED, StudentStatus.SUSPENDED])
                )
            )
            .filter(active__gt=0)
            .order_by("-grade")
        )
        for klass in classes:
            klass.name = promoted_class_name(klass.name, klass.grade)[:40]
            klass.grade += 1
            klass.updated_at = timezone.now()
        SchoolClass.objects.bulk_update(classes, ["name", "grade", "updated_at"])
        result = {
            "school_year": year,
            "classes_promoted": len(classes),
            "graduated": len(graduates),
            "graduating_grade": top,
        }
        audit_record(
            actor=actor,
            action="org.school_promoted",
            target=school,
            after=result,
            district_id=school.district_id,
            school_id=school.pk,
        )
    return result
