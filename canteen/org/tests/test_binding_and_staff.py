"""Guardians bind to their child with the school's code and a one-time code to their mobile;
schools and the district manage staff accounts. Through the services, the API and the pages."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from canteen.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from canteen.core.models import AuditEvent, OutboxEvent
from canteen.org import binding, staff
from canteen.org.choices import Role
from canteen.org.models import BindingChallenge, Guardian, GuardianLink, Student, User
from canteen.org.selectors import children_of

pytestmark = pytest.mark.django_db


def last_code(mobile: str) -> str:
    return (
        OutboxEvent.objects.filter(topic="org.verification_code", payload__mobile=mobile).latest("id").payload["code"]
    )


def test_a_guardian_binds_with_code_and_sms_and_sees_only_bound_children(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil, sibling_elsewhere = world.students[1], world.students[2]
    code = binding.binding_code_for(student=pupil, actor=admin)
    assert binding.binding_code_for(student=pupil, actor=admin) == code  # a reprint shows the same code

    challenge = binding.binding_start(
        code=code.code.lower(), mobile="139 0000 7777", guardian_name="赵敏", relation="mother"
    )
    event = OutboxEvent.objects.get(topic="org.verification_code")
    assert event.payload["purpose"] == "guardian_binding"
    assert event.payload["mobile"] == "13900007777"
    assert event.payload["student_id"] == str(pupil.pk)
    otp = event.payload["code"]
    stored = BindingChallenge.objects.get(pk=challenge.pk)
    assert otp not in stored.code_hash  # only an HMAC of the code is kept
    assert len(stored.code_hash) == 64

    with pytest.raises(ValidationFailed, match="4 tries left"):
        binding.binding_confirm(challenge_id=challenge.pk, otp="000000" if otp != "000000" else "111111")
    link, account = binding.binding_confirm(challenge_id=challenge.pk, otp=otp)
    assert link.student == pupil
    assert account.role == Role.GUARDIAN
    assert account.phone == "13900007777"
    assert list(children_of(guardian_user=account)) == [pupil]
    assert list(Student.objects.visible_to(account)) == [pupil]
    assert sibling_elsewhere not in Student.objects.visible_to(account)
    with pytest.raises(Conflict):
        binding.binding_confirm(challenge_id=challenge.pk, otp=otp)  # a code works once
    assert AuditEvent.objects.filter(action="guardian.bound", actor=account).exists()


def test_several_guardians_per_pupil_and_removing_one(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[1]
    code = binding.binding_code_for(student=pupil, actor=admin).code
    before = GuardianLink.objects.filter(student=pupil).count()
    accounts = []
    for mobile, name in (("13900001001", "爸爸"), ("13900001002", "奶奶")):
        challenge = binding.binding_start(code=code, mobile=mobile, guardian_name=name, relation="other")
        accounts.append(binding.binding_confirm(challenge_id=challenge.pk, otp=last_code(mobile))[1])
    assert GuardianLink.objects.filter(student=pupil).count() == before + 2
    grandma = GuardianLink.objects.get(student=pupil, guardian__phone="13900001002")
    binding.guardian_unlink(actor=admin, link=grandma)
    assert not Student.objects.visible_to(accounts[1]).filter(pk=pupil.pk).exists()
    assert Student.objects.visible_to(accounts[0]).filter(pk=pupil.pk).exists()
    # A guardian may not remove another guardian.
    other_link = GuardianLink.objects.filter(student=pupil).exclude(guardian__user=accounts[0]).first()
    with pytest.raises(Forbidden):
        binding.guardian_unlink(actor=accounts[0], link=other_link)


def test_the_imported_guardian_is_the_one_bound(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[1]
    imported = pupil.guardian_links.get().guardian  # from the roster, no account yet
    code = binding.binding_code_for(student=pupil, actor=admin).code
    challenge = binding.binding_start(code=code, mobile=imported.phone, guardian_name=imported.name)
    link, account = binding.binding_confirm(challenge_id=challenge.pk, otp=last_code(imported.phone))
    assert link.guardian == imported
    imported.refresh_from_db()
    assert imported.user == account
    assert Guardian.objects.filter(phone=imported.phone).count() == 1


def test_binding_is_rate_limited_and_codes_expire(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[1]
    code = binding.binding_code_for(student=pupil, actor=admin).code
    challenge = binding.binding_start(code=code, mobile="13900002000", guardian_name="甲")
    with pytest.raises(binding.RateLimited):
        binding.binding_start(code=code, mobile="13900002000", guardian_name="甲")  # within a minute
    for _ in range(binding.OTP_MAX_ATTEMPTS):
        with pytest.raises(ValidationFailed):
            binding.binding_confirm(challenge_id=challenge.pk, otp="not-it")
    with pytest.raises(ValidationFailed, match="expired"):
        binding.binding_confirm(challenge_id=challenge.pk, otp=last_code("13900002000"))
    assert BindingChallenge.objects.get(pk=challenge.pk).attempts == binding.OTP_MAX_ATTEMPTS
    with pytest.raises(NotFound):
        binding.binding_start(code="NOSUCHCODE", mobile="13900002001", guardian_name="乙")
    binding.binding_code_revoke(student=pupil, actor=admin)
    with pytest.raises(NotFound):
        binding.binding_start(code=code, mobile="13900002002", guardian_name="丙")


def test_binding_sheet_prints_a_slip_per_pupil(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    klass = world.students[0].school_class
    pdf = binding.binding_sheet_pdf(school_class=klass, actor=admin)
    assert pdf.startswith(b"%PDF")
    assert all(
        s.binding_codes.filter(revoked_at__isnull=True).exists() for s in Student.objects.filter(school_class=klass)
    )
    with pytest.raises(Forbidden):
        binding.binding_sheet_pdf(school_class=klass, actor=world.user(Role.WINDOW_OPERATOR))


def test_binding_through_the_api(world, api_client):
    admin = world.user(Role.SCHOOL_ADMIN)
    pupil = world.students[1]
    code = binding.binding_code_for(student=pupil, actor=admin).code
    r = api_client.post(
        "/api/v1/org/guardian-binding/start/",
        {"code": code, "mobile": "13900003000", "name": "钱", "relation": "father"},
        format="json",
    )
    assert r.status_code == 201, r.content
    r = api_client.post(
        "/api/v1/org/guardian-binding/confirm/",
        {"challenge": r.json()["challenge"], "code": last_code("13900003000")},
        format="json",
    )
    assert r.status_code == 200, r.content
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {r.json()['token']}")
    students = api_client.get("/api/v1/org/students/").json()
    assert [s["id"] for s in students.get("results", students)] == [str(pupil.pk)]


# -- staff -----------------------------------------------------------------------------------


def _signs_in(client, username: str, password: str) -> bool:
    """Through the sign-in page, as a person does (the login lockout needs the request)."""
    client.post("/accounts/login/", {"username": username, "password": password})
    return "_auth_user_id" in client.session


def test_school_admin_creates_and_disables_campus_staff(world, client):
    admin = world.user(Role.SCHOOL_ADMIN)
    campus = world.campuses[0]
    account, password = staff.staff_create(
        actor=admin, username="win2", display_name="窗口二", role=Role.WINDOW_OPERATOR, campus=campus
    )
    assert (account.school, account.campus, account.district) == (campus.school, campus, campus.school.district)
    assert _signs_in(client, "win2", password)
    staff.staff_set_active(actor=admin, user=account, active=False)
    client.logout()
    assert not _signs_in(client, "win2", password)
    assert AuditEvent.objects.filter(action="staff.disable", target_id=str(account.pk), actor=admin).exists()
    # Not a school admin, not another school's campus, not a regulator's account.
    with pytest.raises(Forbidden):
        staff.staff_create(actor=admin, username="boss", display_name="", role=Role.SCHOOL_ADMIN, school=campus.school)
    with pytest.raises(Forbidden):
        staff.staff_create(actor=admin, username="x1", display_name="", role=Role.STOREKEEPER, campus=world.campuses[2])
    with pytest.raises(Forbidden):
        staff.staff_set_active(actor=admin, user=world.user(Role.DISTRICT_REGULATOR), active=False)
    for role in (Role.WINDOW_OPERATOR, Role.CANTEEN_MANAGER, Role.GUARDIAN):
        with pytest.raises(Forbidden):
            staff.staff_create(
                actor=world.user(role), username="x2", display_name="", role=Role.STOREKEEPER, campus=campus
            )


def test_district_creates_school_admins_through_the_api(world, api_client):
    regulator = world.user(Role.DISTRICT_REGULATOR)
    api_client.force_authenticate(regulator)
    school = world.schools[1]
    r = api_client.post(
        "/api/v1/org/staff/", {"username": "admin2", "role": "school_admin", "school": str(school.pk)}, format="json"
    )
    assert r.status_code == 201, r.content
    created = User.objects.get(username="admin2")
    assert created.role == Role.SCHOOL_ADMIN
    assert created.school == school
    assert created.check_password(r.json()["password"])
    r = api_client.post(
        "/api/v1/org/staff/",
        {"username": "admin3", "role": "school_admin", "school": str(world.schools[2].pk)},
        format="json",
    )
    assert r.status_code == 404  # a school of another district is not even visible
    r = api_client.post(f"/api/v1/org/staff/{created.pk}/active/", {"active": False}, format="json")
    assert r.json()["is_active"] is False


# -- pages and API for imports and life events ------------------------------------------------


def test_roster_pages_and_api(world, client, api_client):
    from canteen.org.tests.roster_files import pupil_row, xlsx_bytes

    admin = world.user(Role.SCHOOL_ADMIN)
    client.force_login(admin)
    r = client.get(reverse("org:roster-template"))
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    data = xlsx_bytes([pupil_row("P10000001", "页面", world.campuses[0].code)])
    r = client.post(
        reverse("org:roster"), {"file": io.BytesIO(data), "school": str(admin.school_id)}, format="multipart"
    )
    assert r.status_code == 302
    detail = client.get(r["Location"])
    assert detail.status_code == 200
    api_client.force_authenticate(admin)
    upload = io.BytesIO(data)
    upload.name = "api.xlsx"
    r = api_client.post(
        "/api/v1/org/roster-imports/", {"file": upload, "school": str(admin.school_id)}, format="multipart"
    )
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "previewed"
    r = api_client.post(f"/api/v1/org/roster-imports/{r.json()['id']}/confirm/", {"dry_run": False}, format="json")
    assert r.json()["counts"]["students_created"] == 1
    pupil = Student.objects.get(student_number="P10000001")
    r = api_client.post(f"/api/v1/org/students/{pupil.pk}/suspend/", {"reason": "病"}, format="json")
    assert r.json()["status"] == "suspended"
    r = api_client.post(f"/api/v1/org/students/{pupil.pk}/leave/", {"reason": "转学"}, format="json")
    assert r.json()["status"] == "left"
    r = api_client.post(f"/api/v1/org/students/{pupil.pk}/reinstate/", {}, format="json")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "invalid_transition"
    # A window operator sees the pupil page but not the actions.
    client.force_login(world.user(Role.WINDOW_OPERATOR))
    page = client.get(reverse("org:student-detail", args=[world.students[0].pk]))
    assert page.status_code == 200
    assert "leave-form" not in page.content.decode()
    assert client.post(reverse("org:student-action", args=[world.students[0].pk, "leave"])).status_code == 403
    assert client.get(reverse("org:roster")).status_code == 403
