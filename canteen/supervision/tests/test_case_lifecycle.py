"""A case through the closed loop: 立案 → 交办 → 整改 → 复核 (退回 / 通过) → 销号, with history,
evidence validation and escalation."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from canteen.core.errors import InvalidTransition, ValidationFailed
from canteen.core.models import AuditEvent
from canteen.org.choices import Role
from canteen.supervision import services
from canteen.supervision.choices import CaseSource, CaseStatus, Flag, Severity
from canteen.supervision.errors import DeadlineInPast, EvidenceRejected, NotYourCase
from canteen.supervision.models import Case, CaseEvidence

pytestmark = pytest.mark.django_db


def png(name="photo.png") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def open_case(world, **kw) -> Case:
    campus = world.campuses[0]
    case, created = services.case_open(
        actor=world.user(Role.DISTRICT_REGULATOR),
        source=kw.pop("source", CaseSource.MANUAL),
        title=kw.pop("title", "后厨地面积水"),
        district_id=campus.school.district_id,
        school_id=campus.school_id,
        campus_id=campus.pk,
        **kw,
    )
    assert created
    return case


def test_full_loop_with_a_return_then_acceptance_and_closing(world):
    district, school = world.user(Role.DISTRICT_REGULATOR), world.user(Role.SCHOOL_ADMIN)
    case = open_case(world)
    assert case.status == CaseStatus.OPENED
    assert case.number.startswith("AJ")

    deadline = timezone.now() + timedelta(days=2)
    case = services.case_assign(case=case, actor=district, deadline=deadline, note="三日内整改")
    assert (case.status, case.deadline, case.school_id) == (CaseStatus.ASSIGNED, deadline, world.campuses[0].school_id)

    case = services.case_respond(case=case, actor=school, note="已清理并加装挡水条", files=[png()])
    assert case.status == CaseStatus.RESPONDED
    assert not case.responded_late
    evidence = CaseEvidence.objects.get(case=case)
    assert evidence.is_image
    assert evidence.content_type == "image/png"
    assert evidence.size > 0

    case = services.case_review(case=case, actor=district, accept=False, note="照片不清晰，请补充")
    assert case.status == CaseStatus.ASSIGNED
    assert case.return_count == 1

    case = services.case_respond(case=case, actor=school, note="补充整改照片", files=[png("after.png")])
    case = services.case_review(case=case, actor=district, accept=True, note="整改到位")
    assert case.status == CaseStatus.ACCEPTED
    case = services.case_close(case=case, actor=district)
    assert case.status == CaseStatus.CLOSED
    assert case.closed_at is not None

    steps = list(case.steps.values_list("action", "from_status", "to_status"))
    assert steps == [
        ("open", "", "opened"),
        ("assign", "opened", "assigned"),
        ("respond", "assigned", "responded"),
        ("return", "responded", "assigned"),
        ("respond", "assigned", "responded"),
        ("accept", "responded", "accepted"),
        ("close", "accepted", "closed"),
    ]
    assert AuditEvent.objects.filter(target_id=str(case.pk), action__startswith="supervision.case.").count() == 7


@pytest.mark.parametrize(
    ("move", "status_before"),
    [
        ("respond", CaseStatus.OPENED),
        ("close", CaseStatus.OPENED),
        ("accept", CaseStatus.ASSIGNED),
        ("assign", CaseStatus.ASSIGNED),
    ],
)
def test_moves_out_of_order_are_refused(world, move, status_before):
    district, school = world.user(Role.DISTRICT_REGULATOR), world.user(Role.SCHOOL_ADMIN)
    case = open_case(world)
    if status_before == CaseStatus.ASSIGNED:
        case = services.case_assign(case=case, actor=district)
    calls = {
        "respond": lambda: services.case_respond(case=case, actor=school, note="x"),
        "close": lambda: services.case_close(case=case, actor=district),
        "accept": lambda: services.case_review(case=case, actor=district, accept=True),
        "assign": lambda: services.case_assign(case=case, actor=district),
    }
    with pytest.raises(InvalidTransition):
        calls[move]()
    assert Case.objects.get(pk=case.pk).status == status_before


def test_only_the_right_people_move_a_case(world):
    case = open_case(world)
    with pytest.raises(NotYourCase):
        services.case_assign(case=case, actor=world.user(Role.SCHOOL_ADMIN))
    case = services.case_assign(case=case, actor=world.user(Role.CITY_REGULATOR))
    with pytest.raises(NotYourCase):
        services.case_respond(case=case, actor=world.user(Role.DISTRICT_REGULATOR), note="代为整改")
    with pytest.raises(NotYourCase):
        services.case_respond(case=case, actor=world.user(Role.GUARDIAN), note="x")


def test_bad_input_is_refused_and_changes_nothing(world):
    district, school = world.user(Role.DISTRICT_REGULATOR), world.user(Role.SCHOOL_ADMIN)
    case = open_case(world)
    with pytest.raises(DeadlineInPast):
        services.case_assign(case=case, actor=district, deadline=timezone.now() - timedelta(hours=1))
    other_district_school = world.schools[2]
    with pytest.raises(ValidationFailed):
        services.case_assign(case=case, actor=world.user(Role.CITY_REGULATOR), school_id=other_district_school.pk)
    case = services.case_assign(case=case, actor=district)
    fake = SimpleUploadedFile("virus.png", b"MZ\x90\x00 not an image", content_type="image/png")
    with pytest.raises(EvidenceRejected):
        services.case_respond(case=case, actor=school, note="见附件", files=[fake])
    with pytest.raises(ValidationFailed):
        services.case_respond(case=case, actor=school, note="   ")
    assert Case.objects.get(pk=case.pk).status == CaseStatus.ASSIGNED
    assert not CaseEvidence.objects.exists()
    pdf = SimpleUploadedFile("report.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")
    case = services.case_respond(case=case, actor=school, note="整改报告见附件", files=[pdf])
    assert CaseEvidence.objects.get().content_type == "application/pdf"
    with pytest.raises(ValidationFailed):
        services.case_review(case=case, actor=district, accept=False, note="")


def test_overdue_cases_get_yellow_then_red_flags_once(world):
    district, school = world.user(Role.DISTRICT_REGULATOR), world.user(Role.SCHOOL_ADMIN)
    case = services.case_assign(case=open_case(world), actor=district, deadline=timezone.now() + timedelta(hours=2))
    now = timezone.now()
    assert services.case_escalate_overdue(now=now) == 0
    assert services.case_escalate_overdue(now=now + timedelta(hours=3)) == 1
    assert Case.objects.get(pk=case.pk).flag == Flag.YELLOW
    assert services.case_escalate_overdue(now=now + timedelta(hours=4)) == 0  # idempotent
    assert services.case_escalate_overdue(now=now + timedelta(days=3)) == 1
    case = Case.objects.get(pk=case.pk)
    assert case.flag == Flag.RED
    assert [s.data["flag"] for s in case.steps.filter(action="escalate")] == ["yellow", "red"]
    # A late response is remembered for the ranking; a return clears the flag with a new deadline.
    Case.objects.filter(pk=case.pk).update(deadline=timezone.now() - timedelta(hours=1))
    case = services.case_respond(case=case, actor=school, note="迟到的整改")
    assert case.responded_late
    case = services.case_review(case=case, actor=district, accept=False, note="不到位")
    assert case.flag == Flag.NONE
    assert case.deadline > timezone.now()


def test_an_unassigned_case_escalates_too(world):
    case = open_case(world, severity=Severity.HIGH)
    later = timezone.now() + timedelta(hours=25)
    assert services.case_escalate_overdue(now=later) == 1
    assert Case.objects.get(pk=case.pk).flag == Flag.YELLOW


def test_dismissing_frees_the_source_for_a_new_case(world):
    case = open_case(world, source=CaseSource.ALARM, source_ref="alarm-1")
    again, created = services.case_open(
        actor=None, source=CaseSource.ALARM, source_ref="alarm-1", title="again", district_id=case.district_id
    )
    assert (again.pk, created) == (case.pk, False)
    assert case.steps.filter(action="recur").count() == 1
    services.case_dismiss(case=case, actor=world.user(Role.DISTRICT_REGULATOR), note="误报")
    fresh, created = services.case_open(
        actor=None, source=CaseSource.ALARM, source_ref="alarm-1", title="again", district_id=case.district_id
    )
    assert created
    assert fresh.pk != case.pk
