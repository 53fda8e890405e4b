"""The alternatives to face recognition: a QR card (printed or on the guardian's phone) and a
student number + PIN. They work for every student, with or without face consent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from canteen.core.errors import Forbidden
from canteen.core.models import AuditEvent
from canteen.identity import services
from canteen.identity.errors import (
    CredentialInvalid,
    CredentialRevoked,
    CredentialWrongCampus,
    PinLocked,
    PinNotSet,
    PinTooWeak,
    PinWrong,
)
from canteen.identity.models import PinCredential, QrCredential
from canteen.org.choices import Role, StudentStatus

pytestmark = pytest.mark.django_db


def test_a_guardian_gets_a_qr_code_for_their_child_that_the_window_accepts(world):
    student = world.students[0]
    token = services.qr_credential_issue(student=student, actor=world.user(Role.GUARDIAN))
    assert len(token) < 120  # small enough for a low-density QR a cheap scanner reads
    assert services.credential_verify_qr(token=token, campus=student.campus) == student


def test_a_new_card_revokes_the_lost_one(world):
    student = world.students[0]
    staff = world.user(Role.SCHOOL_ADMIN)
    old = services.qr_credential_issue(student=student, actor=staff)
    new = services.qr_credential_issue(student=student, actor=staff)
    with pytest.raises(CredentialRevoked):
        services.credential_verify_qr(token=old, campus=student.campus)
    assert services.credential_verify_qr(token=new, campus=student.campus) == student
    services.qr_credential_revoke(student=student, actor=staff)
    with pytest.raises(CredentialRevoked):
        services.credential_verify_qr(token=new, campus=student.campus)


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "CQ1.xyz:abc", lambda t: ""]
)
def test_a_forged_or_damaged_qr_is_refused(world, mangle):
    student = world.students[0]
    token = services.qr_credential_issue(student=student, actor=world.user(Role.GUARDIAN))
    with pytest.raises(CredentialInvalid) as exc:
        services.credential_verify_qr(token=mangle(token), campus=student.campus)
    assert exc.value.code == "credential_invalid"


def test_a_card_from_another_campus_is_refused(world):
    student = world.students[0]
    token = services.qr_credential_issue(student=student, actor=world.user(Role.GUARDIAN))
    with pytest.raises(CredentialWrongCampus):
        services.credential_verify_qr(token=token, campus=world.campuses[1])


def test_a_student_who_left_cannot_use_the_card(world):
    student = world.students[0]
    token = services.qr_credential_issue(student=student, actor=world.user(Role.GUARDIAN))
    student.status = StudentStatus.LEFT
    student.save()
    with pytest.raises(CredentialInvalid):
        services.credential_verify_qr(token=token, campus=student.campus)


def test_staff_print_a_card_sheet_per_class_without_invalidating_cards_handed_out(world):
    student = world.students[0]
    staff = world.user(Role.CANTEEN_MANAGER)
    handed_out = services.qr_credential_issue(student=student, actor=world.user(Role.GUARDIAN))
    pdf = services.qr_card_sheet_pdf(school_class=student.school_class, actor=staff)
    assert pdf.startswith(b"%PDF")
    assert services.credential_verify_qr(token=handed_out, campus=student.campus) == student
    classmates = [s for s in world.students if s.school_class_id == student.school_class_id]
    assert QrCredential.objects.filter(student__in=classmates, revoked_at__isnull=True).count() == len(classmates)
    assert AuditEvent.objects.filter(action="identity.qr_sheet_printed").get().after == {"cards": len(classmates)}
    with pytest.raises(Forbidden):
        services.qr_card_sheet_pdf(school_class=world.students[3].school_class, actor=staff)  # another campus


def test_a_guardian_cannot_issue_a_card_for_someone_elses_child(world):
    with pytest.raises(Forbidden):
        services.qr_credential_issue(student=world.students[1], actor=world.user(Role.GUARDIAN))


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "1111", "1234", "9876", "0301", "160301"])
def test_weak_pins_are_refused(world, pin):
    # The world's students were born on 2016-03-01.
    with pytest.raises(PinTooWeak):
        services.pin_set(student=world.students[0], pin=pin, actor=world.user(Role.GUARDIAN))


def test_student_number_and_pin_identify_the_student(world):
    student = world.students[0]
    services.pin_set(student=student, pin="4827", actor=world.user(Role.GUARDIAN))
    credential = PinCredential.objects.get(student=student)
    assert "4827" not in credential.pin_hash
    found = services.credential_verify_pin(campus=student.campus, student_number=student.student_number, pin="4827")
    assert found == student


def test_wrong_pin_unknown_number_and_no_pin_are_told_apart_only_where_safe(world):
    student = world.students[0]
    services.pin_set(student=student, pin="4827", actor=world.user(Role.GUARDIAN))
    with pytest.raises(PinWrong) as exc:
        services.credential_verify_pin(campus=student.campus, student_number=student.student_number, pin="4828")
    assert exc.value.details["attempts_left"] == services.PIN_MAX_FAILURES - 1
    with pytest.raises(PinWrong):
        services.credential_verify_pin(campus=student.campus, student_number="no-such", pin="4827")
    with pytest.raises(PinNotSet):
        services.credential_verify_pin(
            campus=student.campus, student_number=world.students[1].student_number, pin="4827"
        )
    with pytest.raises(PinWrong):  # right number and PIN, wrong campus
        services.credential_verify_pin(campus=world.campuses[1], student_number=student.student_number, pin="4827")


def test_repeated_wrong_pins_lock_even_the_right_one_for_a_while(world):
    student = world.students[0]
    services.pin_set(student=student, pin="4827", actor=world.user(Role.GUARDIAN))
    campus, number = student.campus, student.student_number
    for _ in range(services.PIN_MAX_FAILURES - 1):
        with pytest.raises(PinWrong):
            services.credential_verify_pin(campus=campus, student_number=number, pin="0000")
    with pytest.raises(PinLocked):
        services.credential_verify_pin(campus=campus, student_number=number, pin="0000")
    with pytest.raises(PinLocked):
        services.credential_verify_pin(campus=campus, student_number=number, pin="4827")
    assert AuditEvent.objects.filter(action="identity.pin_locked").count() == 1
    # Time passes: the lock expires and the right PIN works again, resetting the count.
    PinCredential.objects.filter(student=student).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert services.credential_verify_pin(campus=campus, student_number=number, pin="4827") == student
    with pytest.raises(PinWrong) as exc:
        services.credential_verify_pin(campus=campus, student_number=number, pin="0000")
    assert exc.value.details["attempts_left"] == services.PIN_MAX_FAILURES - 1


def test_a_guardian_resetting_the_pin_unlocks_it(world):
    student = world.students[0]
    parent = world.user(Role.GUARDIAN)
    services.pin_set(student=student, pin="4827", actor=parent)
    PinCredential.objects.filter(student=student).update(locked_until=timezone.now() + timedelta(minutes=10))
    services.pin_set(student=student, pin="5938", actor=parent)
    assert services.credential_verify_pin(campus=student.campus, student_number=student.student_number, pin="5938")


def test_the_printed_card_scans_back_to_the_student(world):
    """Render the PDF sheet and read a QR code off it with OpenCV, as a window scanner would."""
    pypdfium2 = pytest.importorskip("pypdfium2")
    import numpy as np

    from canteen.core.qr import decode_all_qr

    student = world.students[0]
    pdf = services.qr_card_sheet_pdf(school_class=student.school_class, actor=world.user(Role.SCHOOL_ADMIN))
    page = np.asarray(pypdfium2.PdfDocument(pdf)[0].render(scale=2).to_pil().convert("L"))
    tokens = decode_all_qr(page)
    assert tokens
    scanned = {services.credential_verify_qr(token=t, campus=student.campus) for t in tokens if t}
    assert scanned == {s for s in world.students if s.school_class_id == student.school_class_id}
