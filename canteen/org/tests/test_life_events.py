"""A pupil's life after enrolment: class change, promotion, campus transfer, suspension, leaving."""

from __future__ import annotations

from datetime import date

import pytest

from canteen.core.errors import Conflict, Forbidden, InvalidTransition
from canteen.core.models import AuditEvent, OutboxEvent
from canteen.core.money import Money
from canteen.identity import selectors as identity_selectors
from canteen.identity import services as identity
from canteen.identity.errors import CredentialRevoked, PinWrong
from canteen.identity.models import DisplayPhoto, FaceConsent, FaceTemplate, PinCredential
from canteen.identity.tests.helpers import consent_and_enrol
from canteen.ledger import services as ledger
from canteen.ledger.choices import AccountStatus, Channel, PostingKind
from canteen.ledger.errors import AccountClosed
from canteen.ledger.models import Account, Posting
from canteen.ledger.tests.helpers import assert_books_balance
from canteen.org import life
from canteen.org.choices import Role, SchoolStage, StudentStatus
from canteen.org.models import SchoolClass, Student

pytestmark = pytest.mark.django_db


def test_a_leaver_with_money_subsidy_and_a_face_leaves_nothing_usable_and_keeps_history(world, portrait_jpegs):
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[0]
    ledger.top_up(student=pupil, amount=Money(5000), channel=Channel.CASH, idempotency_key="t1", actor=admin)
    ledger.subsidy_grant(student=pupil, amount=Money(400), day=date(2026, 12, 1))
    ledger.meal_charge(student=pupil, amount=Money(650), idempotency_key="m1", campus=pupil.campus, actor=admin)
    consent_and_enrol(pupil, portrait_jpegs["astronaut"], keep_display_photo=True)
    token = identity.qr_credential_issue(student=pupil, actor=admin)
    identity.pin_set(student=pupil, pin="604817", actor=admin)
    assert FaceTemplate.objects.filter(student=pupil).exists()
    assert DisplayPhoto.objects.filter(student=pupil).exists()
    history = set(Posting.objects.filter(student=pupil).values_list("id", flat=True))
    version = identity_selectors.gallery_version(campus=pupil.campus)

    life.student_leave(actor=admin, student=pupil, reason="转学外地")

    pupil.refresh_from_db()
    assert pupil.status == StudentStatus.LEFT
    wallet = Account.objects.get(code=f"wallet:{pupil.pk}")
    assert wallet.balance_fen == 0
    assert wallet.status == AccountStatus.CLOSED
    closure = Posting.objects.get(kind=PostingKind.CLOSURE, student=pupil)
    assert closure.amount_fen == 5000 + 400 - 650  # the whole balance went to refunds due (ledger's part)
    assert not FaceTemplate.objects.filter(student=pupil).exists()
    assert not DisplayPhoto.objects.filter(student=pupil).exists()
    consent = FaceConsent.objects.get(student=pupil)
    assert consent.withdrawn_at is not None
    assert consent.withdrawal_reason == "student_left"
    assert identity_selectors.gallery_version(campus=pupil.campus) > version
    with pytest.raises(CredentialRevoked):
        identity.credential_verify_qr(token=token, campus=pupil.campus)
    assert not PinCredential.objects.filter(student=pupil).exists()
    with pytest.raises(PinWrong):
        identity.credential_verify_pin(campus=pupil.campus, student_number=pupil.student_number, pin="604817")
    # History: every earlier posting is still there, and the books balance.
    assert history <= set(Posting.objects.filter(student=pupil).values_list("id", flat=True))
    assert_books_balance()
    assert pupil.guardian_links.exists()  # the family still sees the history
    event = OutboxEvent.objects.get(topic="org.student_left")
    assert event.payload == {
        "student_id": str(pupil.pk),
        "campus_id": str(pupil.campus_id),
        "school_id": str(pupil.campus.school_id),
    }
    audit = AuditEvent.objects.get(action="student.leave", target_id=str(pupil.pk))
    assert audit.actor == admin
    assert audit.after["refund_fen"] == 4750
    assert audit.after["templates_deleted"] >= 1
    # Leaving twice is refused; the wallet takes no more money.
    with pytest.raises(InvalidTransition):
        life.student_leave(actor=admin, student=pupil)
    with pytest.raises(AccountClosed):
        ledger.top_up(student=pupil, amount=Money(100), channel=Channel.CASH, idempotency_key="t2", actor=admin)


def test_an_overdrawn_leaver_is_refused_and_nothing_changes(world, settings):
    settings.CANTEEN_WALLET_OVERDRAFT_FEN = 500
    ledger.clear_caches()
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[1]
    ledger.meal_charge(student=pupil, amount=Money(300), idempotency_key="od", campus=pupil.campus, actor=admin)
    with pytest.raises(Exception, match="overdrawn"):
        life.student_leave(actor=admin, student=pupil)
    pupil.refresh_from_db()
    assert pupil.status == StudentStatus.ENROLLED
    assert not OutboxEvent.objects.filter(topic="org.student_left").exists()


def test_class_change_suspension_and_reinstatement(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[0]
    other = SchoolClass.objects.create(campus=pupil.campus, grade=4, name="四年级2班", entry_year=2023)
    life.student_class_change(actor=admin, student=pupil, school_class=other)
    pupil.refresh_from_db()
    assert pupil.school_class == other
    life.student_suspend(actor=admin, student=pupil, reason="病休")
    pupil.refresh_from_db()
    assert pupil.status == StudentStatus.SUSPENDED
    with pytest.raises(InvalidTransition):
        life.student_class_change(actor=admin, student=pupil, school_class=other)
    life.student_reinstate(actor=admin, student=pupil)
    pupil.refresh_from_db()
    assert pupil.status == StudentStatus.ENROLLED
    actions = list(AuditEvent.objects.filter(target_id=str(pupil.pk)).order_by("id").values_list("action", flat=True))
    assert actions == ["student.class_change", "student.suspend", "student.reinstate"]


def test_only_the_schools_or_districts_administrators_run_life_events(world):
    pupil = world.students[0]
    for role in (Role.WINDOW_OPERATOR, Role.CANTEEN_MANAGER, Role.STOREKEEPER, Role.GUARDIAN, Role.CITY_REGULATOR):
        with pytest.raises(Forbidden):
            life.student_suspend(actor=world.user(role), student=pupil)
    outsider = world.students[-1]  # a pupil of the other district
    with pytest.raises(Forbidden):
        life.student_suspend(actor=world.user(Role.SCHOOL_ADMIN), student=outsider)
    life.student_suspend(actor=world.user(Role.DISTRICT_REGULATOR), student=pupil)


def test_transfer_between_campuses_keeps_wallet_face_and_credentials(world, portrait_jpegs):
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[0]
    origin, target = world.campuses[0], world.campuses[1]
    assert origin.school_id == target.school_id
    ledger.top_up(student=pupil, amount=Money(2000), channel=Channel.CASH, idempotency_key="t1", actor=admin)
    consent_and_enrol(pupil, portrait_jpegs["astronaut"])
    token = identity.qr_credential_issue(student=pupil, actor=admin)
    versions = {c.pk: identity_selectors.gallery_version(campus=c) for c in (origin, target)}
    klass = SchoolClass.objects.create(campus=target, grade=4, name="四年级3班", entry_year=2023)

    life.student_transfer_campus(actor=admin, student=pupil, campus=target, school_class=klass)

    pupil = Student.objects.get(pk=pupil.pk)
    assert pupil.campus == target
    wallet = Account.objects.get(code=f"wallet:{pupil.pk}")
    assert wallet.campus_id == target.pk
    assert wallet.balance_fen == 2000
    assert FaceTemplate.objects.filter(student=pupil).exists()
    for campus in (origin, target):
        assert identity_selectors.gallery_version(campus=campus) > versions[campus.pk]
    assert identity.credential_verify_qr(token=token, campus=target) == pupil
    # New meals book at the new campus; the earlier top-up stays with the old one.
    ledger.meal_charge(student=pupil, amount=Money(500), idempotency_key="m-new", campus=target, actor=admin)
    assert Posting.objects.get(idempotency_key="m-new").campus_id == target.pk
    assert Posting.objects.get(idempotency_key="t1").campus_id == origin.pk
    assert_books_balance()
    assert OutboxEvent.objects.filter(topic="org.student_transferred", payload__student_id=str(pupil.pk)).exists()
    # A school admin cannot move a pupil to another school; the district can.
    elsewhere = world.campuses[2]
    far = SchoolClass.objects.create(campus=elsewhere, grade=4, name="四年级1班", entry_year=2023)
    with pytest.raises(Forbidden):
        life.student_transfer_campus(actor=admin, student=pupil, campus=elsewhere, school_class=far)
    life.student_transfer_campus(
        actor=world.user(Role.DISTRICT_REGULATOR), student=pupil, campus=elsewhere, school_class=far
    )


def test_year_end_promotion_moves_every_class_up_and_graduates_the_top_grade(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    school = world.schools[0]
    assert school.stage == SchoolStage.PRIMARY
    campus = world.campuses[0]
    sixth = SchoolClass.objects.create(campus=campus, grade=6, name="六年级1班", entry_year=2020)
    leaver = Student.objects.create(
        campus=campus,
        school_class=sixth,
        student_number="G6000001",
        name="毕业生",
        gender="m",
        birth_date=date(2014, 1, 1),
    )
    ledger.top_up(student=leaver, amount=Money(800), channel=Channel.CASH, idempotency_key="g1", actor=admin)
    fourth = world.students[0].school_class
    stays = Student.objects.filter(school_class=fourth).count()

    result = life.school_promote(actor=admin, school=school)

    assert result["graduated"] == 1
    leaver.refresh_from_db()
    assert leaver.status == StudentStatus.GRADUATED
    assert Account.objects.get(code=f"wallet:{leaver.pk}").balance_fen == 0
    fourth.refresh_from_db()
    assert (fourth.grade, fourth.name) == (5, "五年级1班")
    assert Student.objects.filter(school_class=fourth, status=StudentStatus.ENROLLED).count() == stays
    sixth.refresh_from_db()
    assert sixth.name.startswith("六年级1班（")  # kept, named by the year it left
    assert OutboxEvent.objects.filter(topic="org.student_left", payload__student_id=str(leaver.pk)).exists()
    with pytest.raises(Conflict):
        life.school_promote(actor=admin, school=school)


@pytest.mark.parametrize(
    ("name", "grade", "expected"),
    [
        ("四年级2班", 4, "五年级2班"),
        ("初一(3)班", 7, "初二(3)班"),
        ("七年级1班", 7, "八年级1班"),
        ("4-2", 4, "5-2"),
        ("3年级1班", 3, "4年级1班"),
        ("火箭班", 5, "火箭班"),
    ],
)
def test_promoted_class_names(name, grade, expected):
    assert life.promoted_class_name(name, grade) == expected
