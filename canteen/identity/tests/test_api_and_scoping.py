"""Through the API: a guardian consents and uploads on a phone; staff see their campus only;
regulators see counts only; no response ever carries a template."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from canteen.identity import services
from canteen.identity.tests.helpers import consent_and_enrol
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db

API = "/api/v1/identity"


def as_user(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_a_guardian_consents_and_enrols_through_the_api(world, api_client, portrait_jpegs):
    student = world.students[0]
    client = as_user(api_client, world.user(Role.GUARDIAN))
    text = client.get(f"{API}/consent-text/").json()
    assert "存储于区教育局服务器" in text["text_zh"]
    r = client.post(f"{API}/students/{student.pk}/consent/", {"agree": False}, format="json")
    assert r.status_code == 400
    r = client.post(
        f"{API}/students/{student.pk}/consent/",
        {"agree": True, "text_version": text["version"], "keep_display_photo": False},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["text_version"] == text["version"]
    photo = SimpleUploadedFile("me.jpg", portrait_jpegs["astronaut"], content_type="image/jpeg")
    r = client.post(f"{API}/students/{student.pk}/enrol/", {"photos": [photo], "source": "guardian_upload"})
    assert r.status_code == 201, r.content
    assert r.json()["templates"] == 1
    status = client.get(f"{API}/students/{student.pk}/").json()
    assert status["status"] == "enrolled"
    assert status["template_count"] == 1
    assert set(status) == {
        "student_id", "name", "student_number", "school_class", "status", "consent",
        "template_count", "has_qr", "has_pin", "pin_locked",
    }  # fmt: skip


def test_a_bad_photo_comes_back_with_its_reason_in_both_languages(world, api_client):
    student = world.students[0]
    services.consent_give(student=student, actor=world.user(Role.GUARDIAN))
    client = as_user(api_client, world.user(Role.GUARDIAN))
    bad = SimpleUploadedFile("x.jpg", b"not really a jpeg", content_type="image/jpeg")
    r = client.post(f"{API}/students/{student.pk}/enrol/", {"photos": [bad], "source": "guardian_upload"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "not_an_image"
    assert "JPEG" in error["message_zh"]
    assert error["details"]["photo"] == 1


def test_a_guardian_cannot_see_another_child(world, api_client):
    client = as_user(api_client, world.user(Role.GUARDIAN))
    assert client.get(f"{API}/students/{world.students[1].pk}/").status_code == 404
    r = client.post(f"{API}/students/{world.students[1].pk}/consent/", {"agree": True}, format="json")
    assert r.status_code == 404


def test_staff_of_another_campus_cannot_get_the_gallery(world, api_client, portrait_jpegs):
    other_campus = world.campuses[2]  # another school
    consent_and_enrol(world.students[6], portrait_jpegs["tom"])
    client = as_user(api_client, world.user(Role.CANTEEN_MANAGER))
    assert client.get(f"{API}/campuses/{other_campus.pk}/gallery-package/").status_code == 404
    own = world.campuses[0]
    r = client.get(f"{API}/campuses/{own.pk}/gallery-package/")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/octet-stream"
    assert int(r["X-Gallery-Version"]) == 0


def test_regulators_see_consent_statistics_but_never_templates(world, api_client, portrait_jpegs):
    consent_and_enrol(world.students[0], portrait_jpegs["astronaut"])
    services.consent_give(student=world.students[1], actor=_guardian(world.students[1]))
    client = as_user(api_client, world.user(Role.DISTRICT_REGULATOR))
    stats = client.get(f"{API}/statistics/").json()
    first = next(row for row in stats if row["campus_id"] == str(world.campuses[0].pk))
    assert (first["students"], first["consented"], first["enrolled"], first["withdrawn"]) == (3, 2, 1, 0)
    assert len(stats) == 4  # the district regulator's own district: 2 schools × 2 campuses
    assert client.get(f"{API}/campuses/{world.campuses[0].pk}/gallery-package/").status_code == 403
    assert client.get(f"{API}/campuses/{world.campuses[0].pk}/gallery-version/").status_code == 403
    guardian = as_user(api_client, world.user(Role.GUARDIAN))
    assert guardian.get(f"{API}/statistics/").status_code == 403


def _guardian(student):
    from canteen.identity.tests.helpers import guardian_user_of

    return guardian_user_of(student)


def test_window_staff_verify_a_qr_card_and_a_pin(world, api_client):
    student = world.students[0]
    token = services.qr_credential_issue(student=student, actor=world.user(Role.GUARDIAN))
    services.pin_set(student=student, pin="7351", actor=world.user(Role.GUARDIAN))
    client = as_user(api_client, world.user(Role.WINDOW_OPERATOR))
    r = client.post(f"{API}/verify/qr/", {"campus_id": str(student.campus_id), "token": token}, format="json")
    assert r.json()["student_id"] == str(student.pk)
    r = client.post(
        f"{API}/verify/pin/",
        {"campus_id": str(student.campus_id), "student_number": student.student_number, "pin": "0000"},
        format="json",
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "pin_wrong"


def test_class_cards_pdf_for_staff(world, api_client):
    klass = world.students[0].school_class
    r = as_user(api_client, world.user(Role.SCHOOL_ADMIN)).get(f"{API}/classes/{klass.pk}/cards.pdf")
    assert r.status_code == 200
    assert r.content.startswith(b"%PDF")


def test_the_kept_photo_is_served_to_window_staff_only_and_templates_never(world, api_client, portrait_jpegs):
    from django.contrib import admin

    from canteen.identity.models import DisplayPhoto, FaceTemplate

    student = world.students[0]
    consent_and_enrol(student, portrait_jpegs["astronaut"], keep_display_photo=True)
    r = as_user(api_client, world.user(Role.WINDOW_OPERATOR)).get(f"{API}/students/{student.pk}/display-photo.jpg")
    assert r.status_code == 200
    assert r.content[:2] == b"\xff\xd8"
    assert r["Cache-Control"] == "private, no-store"
    r = as_user(api_client, world.user(Role.DISTRICT_REGULATOR)).get(f"{API}/students/{student.pk}/display-photo.jpg")
    assert r.status_code == 403
    assert not admin.site.is_registered(FaceTemplate)
    assert not admin.site.is_registered(DisplayPhoto)
    # No response of the student endpoints carries template bytes.
    body = as_user(api_client, world.user(Role.SCHOOL_ADMIN)).get(f"{API}/students/{student.pk}/").content
    assert b"sealed" not in body


def test_withdrawal_through_the_api_moves_the_version_a_terminal_polls(world, api_client, portrait_jpegs):
    student = world.students[0]
    consent_and_enrol(student, portrait_jpegs["astronaut"])
    staff = as_user(api_client, world.user(Role.WINDOW_OPERATOR))
    before = staff.get(f"{API}/campuses/{student.campus_id}/gallery-version/").json()["version"]
    guardian = as_user(api_client, world.user(Role.GUARDIAN))
    r = guardian.post(f"{API}/students/{student.pk}/consent/withdraw/", {"reason": "moving"}, format="json")
    assert r.status_code == 200
    assert r.json()["withdrawn_at"]
    staff = as_user(api_client, world.user(Role.WINDOW_OPERATOR))
    assert staff.get(f"{API}/campuses/{student.campus_id}/gallery-version/").json()["version"] == before + 1
    assert guardian.post(f"{API}/students/{student.pk}/consent/withdraw/", {}, format="json").status_code == 403
