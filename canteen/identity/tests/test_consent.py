"""A guardian's separate consent comes before any template; withdrawing it deletes the templates
everywhere and moves the gallery version so terminals drop the child."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from canteen.core.errors import Forbidden
from canteen.core.models import AuditEvent, OutboxEvent
from canteen.identity import selectors, services
from canteen.identity.consent_text import CURRENT_VERSION, consent_text_sha256
from canteen.identity.errors import ConsentAlreadyGiven, ConsentRequired, NotGuardianOfStudent
from canteen.identity.models import DisplayPhoto, FaceConsent, FaceTemplate, TemplateSource
from canteen.identity.tests.helpers import consent_and_enrol
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def test_without_consent_nothing_can_be_enrolled(world, portrait_jpegs):
    student = world.students[0]
    with pytest.raises(ConsentRequired) as exc:
        services.face_enrol(
            student=student,
            actor=world.user(Role.SCHOOL_ADMIN),
            photos=[portrait_jpegs["astronaut"]],
            source=TemplateSource.STAFF_CAPTURE,
        )
    assert "二维码" in exc.value.message_zh
    assert "QR" in exc.value.message_en
    assert not FaceTemplate.objects.exists()
    assert not selectors.has_face_consent(student=student)


def test_consent_records_who_when_which_text_and_where_the_data_goes(world):
    student = world.students[0]
    parent = world.user(Role.GUARDIAN)
    consent = services.consent_give(student=student, actor=parent, keep_display_photo=True)
    consent.refresh_from_db()
    assert consent.guardian.user == parent
    assert consent.given_by == parent
    assert consent.given_at
    assert consent.text_version == CURRENT_VERSION
    assert consent.text_sha256 == consent_text_sha256(CURRENT_VERSION)
    assert "仅发送至该学生所在校区的售饭窗口终端" in consent.storage_statement
    assert "sent only to the serving-window terminals of the student's campus" in consent.storage_statement
    assert consent.keep_display_photo
    assert selectors.has_face_consent(student=student)
    assert AuditEvent.objects.filter(action="identity.consent_given", target_id=str(student.pk)).exists()


def test_only_the_students_own_guardian_can_consent(world):
    student = world.students[0]
    for role in (Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER, Role.DISTRICT_REGULATOR):
        with pytest.raises(NotGuardianOfStudent):
            services.consent_give(student=student, actor=world.user(role))
    with pytest.raises(NotGuardianOfStudent):  # a guardian, but of another child
        services.consent_give(student=world.students[1], actor=world.user(Role.GUARDIAN))


def test_consenting_twice_is_refused(world):
    parent = world.user(Role.GUARDIAN)
    services.consent_give(student=world.students[0], actor=parent)
    with pytest.raises(ConsentAlreadyGiven):
        services.consent_give(student=world.students[0], actor=parent)
    assert FaceConsent.objects.count() == 1


def test_withdrawal_deletes_templates_and_photo_and_moves_the_gallery_version(world, portrait_jpegs):
    student, other = world.students[0], world.students[1]
    campus = student.campus
    staff = world.user(Role.CANTEEN_MANAGER)
    consent_and_enrol(student, portrait_jpegs["astronaut"], keep_display_photo=True)
    consent_and_enrol(other, portrait_jpegs["tom"])
    assert DisplayPhoto.objects.filter(student=student).exists()
    before = selectors.gallery_for_campus(campus=campus, actor=staff, purpose="test")
    assert set(before.student_ids) == {str(student.pk), str(other.pk)}
    package_before = services.terminal_gallery_package(campus=campus, actor=staff)

    services.consent_withdraw(student=student, actor=world.user(Role.GUARDIAN), reason="changed our mind")

    assert not FaceTemplate.objects.filter(student=student).exists()
    assert not DisplayPhoto.objects.filter(student=student).exists()
    assert FaceTemplate.objects.filter(student=other).count() == 1
    consent = FaceConsent.objects.get(student=student)
    assert consent.withdrawn_at
    assert consent.withdrawn_by == world.user(Role.GUARDIAN)
    assert selectors.gallery_version(campus=campus) == before.version + 1
    after = selectors.gallery_for_campus(campus=campus, actor=staff, purpose="test")
    assert after.student_ids == [str(other.pk)]
    # A terminal holding the old package sees that its version is stale and the new one lacks the child.
    old = services.gallery_package_header(package_before)
    new = services.gallery_package_open(services.terminal_gallery_package(campus=campus, actor=staff))
    assert new.version > old["version"]
    assert str(student.pk) not in new.student_ids
    event = OutboxEvent.objects.get(topic="identity.face_withdrawn")
    assert event.payload == {"student_id": str(student.pk), "campus_id": str(campus.pk), "gallery_version": new.version}
    withdrawn = AuditEvent.objects.get(action="identity.consent_withdrawn")
    assert withdrawn.after["templates_deleted"] == 1
    assert withdrawn.after["photos_deleted"] == 1


def test_after_withdrawal_the_child_is_served_by_the_alternative_and_may_consent_again(world, portrait_jpegs):
    student = world.students[0]
    parent = world.user(Role.GUARDIAN)
    consent_and_enrol(student, portrait_jpegs["astronaut"])
    services.consent_withdraw(student=student, actor=parent)
    with pytest.raises(ConsentRequired):
        services.face_enrol(
            student=student, actor=parent, photos=[portrait_jpegs["astronaut"]], source=TemplateSource.GUARDIAN_UPLOAD
        )
    token = services.qr_credential_issue(student=student, actor=parent)
    assert services.credential_verify_qr(token=token, campus=student.campus) == student
    services.consent_give(student=student, actor=parent)
    assert FaceConsent.objects.filter(student=student).count() == 2
    assert selectors.has_face_consent(student=student)


def test_withdrawing_without_consent_is_refused(world):
    with pytest.raises(ConsentRequired):
        services.consent_withdraw(student=world.students[0], actor=world.user(Role.GUARDIAN))


def test_staff_of_another_campus_cannot_withdraw(world, portrait_jpegs):
    student = world.students[3]  # second campus; the campus staff belong to the first
    consent_and_enrol(student, portrait_jpegs["tom"])
    with pytest.raises(Forbidden):
        services.consent_withdraw(student=student, actor=world.user(Role.CANTEEN_MANAGER))
    assert FaceTemplate.objects.filter(student=student).exists()


def test_the_gallery_is_decrypted_once_per_version_but_every_access_is_audited(world, portrait_jpegs):
    student = world.students[0]
    staff = world.user(Role.WINDOW_OPERATOR)
    consent_and_enrol(student, portrait_jpegs["astronaut"])
    selectors.gallery_for_campus(campus=student.campus, actor=staff, purpose="warm")
    with CaptureQueriesContext(connection) as queries:
        selectors.gallery_for_campus(campus=student.campus, actor=staff, purpose="checkout")
    assert not any("identity_facetemplate" in q["sql"] for q in queries.captured_queries)
    accesses = AuditEvent.objects.filter(action="identity.templates_accessed", target_id=str(student.campus_id))
    assert [a.after["purpose"] for a in accesses.order_by("id")] == ["warm", "checkout"]
    assert accesses.first().actor == staff
