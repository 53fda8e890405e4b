"""The checkout API as a window terminal and a window operator use it."""

from __future__ import annotations

import pytest

from canteen.consumption import services
from canteen.consumption.models import MealRecord
from canteen.ledger.models import Posting

from .conftest import balance, fund

pytestmark = pytest.mark.django_db

URL = "/api/v1/consumption/checkouts/"


def as_terminal(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Terminal {token}")
    return api_client


def test_a_terminal_checks_out_once_per_key_and_the_retry_replays(world, canteen, registered_terminal, api_client):
    terminal, token = registered_terminal
    student = world.students[0]
    fund(student, "20.00")
    client = as_terminal(api_client, token)
    body = {"method": "qr", "qr_token": _qr(student)}
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="T-1")
    assert first.status_code == 201, first.json()
    data = first.json()
    assert data["student"]["name"] == student.name
    assert data["student"]["class_name"] == student.school_class.name
    assert data["record"]["method"] == "qr"
    assert data["record"]["terminal_id"] == str(terminal.pk)
    assert data["balance_after_fen"] == 2000 - canteen.price_fen
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="T-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["record"]["id"] == data["record"]["id"]
    assert MealRecord.objects.count() == 1
    assert Posting.objects.filter(kind="meal_charge").count() == 1
    assert balance(student) == 2000 - canteen.price_fen


def _qr(student):
    """A QR card issued by the canteen manager of the student's campus (identity's service)."""
    from canteen.identity import services as identity_services
    from canteen.org.models import User

    manager = User.objects.get(role="canteen_manager", campus=student.campus)
    return identity_services.qr_credential_issue(student=student, actor=manager)


def test_error_bodies_say_what_to_do(world, canteen, registered_terminal, api_client):
    _terminal, token = registered_terminal
    client = as_terminal(api_client, token)
    poor, unknown_face = world.students[0], world.students[1]
    fund(poor, "1.00")
    reply = client.post(URL, {"method": "qr", "qr_token": _qr(poor)}, format="json", HTTP_IDEMPOTENCY_KEY="e-1")
    assert reply.status_code == 402
    error = reply.json()["error"]
    assert error["code"] == "insufficient_balance"
    # The refused pupil is named by id: the terminal shows the name from its roster (QR, PIN).
    assert error["details"] == {"balance_fen": 100, "price_fen": canteen.price_fen, "student_id": str(poor.pk)}
    assert "充值" in error["message_zh"]
    assert "top up" in error["message_en"]

    reply = client.post(
        URL, {"method": "face", "student_id": str(unknown_face.pk)}, format="json", HTTP_IDEMPOTENCY_KEY="e-2"
    )
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "face_consent_missing"

    import uuid

    reply = client.post(
        URL, {"method": "face", "student_id": str(uuid.uuid4())}, format="json", HTTP_IDEMPOTENCY_KEY="e-3"
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "unknown_student"

    fund(poor, "20.00")
    client.post(URL, {"method": "qr", "qr_token": _qr(poor)}, format="json", HTTP_IDEMPOTENCY_KEY="e-4")
    reply = client.post(URL, {"method": "qr", "qr_token": _qr(poor)}, format="json", HTTP_IDEMPOTENCY_KEY="e-5")
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "already_served"

    reply = client.post(URL, {"method": "qr", "qr_token": _qr(poor)}, format="json")
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "idempotency_key_missing"


def test_a_refused_checkout_is_not_stored_so_the_retry_after_a_top_up_succeeds(
    world, canteen, registered_terminal, api_client
):
    _terminal, token = registered_terminal
    client = as_terminal(api_client, token)
    student = world.students[0]
    token_qr = _qr(student)
    assert (
        client.post(URL, {"method": "qr", "qr_token": token_qr}, format="json", HTTP_IDEMPOTENCY_KEY="r").status_code
        == 402
    )
    fund(student, "20.00")
    assert (
        client.post(URL, {"method": "qr", "qr_token": token_qr}, format="json", HTTP_IDEMPOTENCY_KEY="r").status_code
        == 201
    )


def test_a_window_operator_checks_out_by_student_number_and_pin(world, canteen, operator, api_client):
    from canteen.identity import services as identity_services

    student = world.students[0]
    fund(student, "20.00")
    identity_services.pin_set(student=student, pin="482915", actor=operator)
    api_client.force_authenticate(operator)
    body = {
        "method": "pin",
        "student_number": student.student_number,
        "pin": "482915",
        "window_id": str(canteen.window.pk),
    }
    reply = api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="op-1")
    assert reply.status_code == 201, reply.json()
    record = MealRecord.objects.get()
    assert record.operator == operator
    assert record.method == "pin"
    assert record.terminal is None


def test_only_this_campus_staff_and_terminals_may_check_out(world, canteen, registered_terminal, api_client):
    student = world.students[0]
    fund(student, "20.00")
    body = {"method": "manual", "student_id": str(student.pk), "window_id": str(canteen.window.pk)}
    assert api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="x").status_code in (401, 403)
    api_client.force_authenticate(world.user("guardian"))
    reply = api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="x1")
    assert reply.json()["error"]["code"] == "not_allowed_at_window"
    api_client.force_authenticate(None)
    as_terminal(api_client, "ct_000000000000_forged")
    assert api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="x2").status_code == 401
    terminal, token = registered_terminal
    services.terminal_deactivate(terminal=terminal, actor=None)
    as_terminal(api_client, token)
    reply = api_client.post(URL, {"method": "qr", "qr_token": _qr(student)}, format="json", HTTP_IDEMPOTENCY_KEY="x3")
    assert reply.json()["error"]["code"] == "terminal_inactive"
    assert not MealRecord.objects.exists()


def test_a_terminal_finds_a_checkout_by_key_and_voids_it(world, canteen, registered_terminal, api_client):
    _terminal, token = registered_terminal
    client = as_terminal(api_client, token)
    student = world.students[0]
    fund(student, "20.00")
    client.post(URL, {"method": "qr", "qr_token": _qr(student)}, format="json", HTTP_IDEMPOTENCY_KEY="lost-answer")
    found = client.get(f"{URL}by-key/lost-answer/")
    assert found.status_code == 200
    assert found.json()["status"] == "served"
    assert client.get(f"{URL}by-key/never-sent/").status_code == 404
    voided = client.post(
        f"{URL}{found.json()['id']}/void/", {"reason": "离线拒绝后撤销"}, format="json", HTTP_IDEMPOTENCY_KEY="void-1"
    )
    assert voided.status_code == 200
    assert voided.json()["status"] == "voided"
    assert balance(student) == 2000


def test_a_terminal_gets_its_config_roster_and_encrypted_gallery(world, canteen, registered_terminal, api_client):
    from canteen.identity.services import gallery_package_open

    terminal, token = registered_terminal
    client = as_terminal(api_client, token)
    me = client.get("/api/v1/consumption/terminal/me/").json()
    assert me["code"] == terminal.code
    assert me["sessions"] == [{"kind": "lunch", "start": "00:00", "end": "23:59"}]
    assert me["offline_price_fen"] == max(sm.price_fen for sm in canteen.set_meals.values())
    roster = client.get("/api/v1/consumption/terminal/roster/").json()["students"]
    assert {s["id"] for s in roster} == {str(s.pk) for s in world.students if s.campus_id == canteen.campus.pk}
    package = client.get("/api/v1/consumption/terminal/gallery/")
    assert package.status_code == 200
    gallery = gallery_package_open(package.content)
    assert str(gallery.version) == me["gallery_version"]
    unchanged = client.get("/api/v1/consumption/terminal/gallery/", HTTP_IF_NONE_MATCH=package["ETag"])
    assert unchanged.status_code == 304
    # A user token is not a terminal.
    api_client.credentials()
    api_client.force_authenticate(world.user("window_operator"))
    assert api_client.get("/api/v1/consumption/terminal/me/").status_code == 403


def test_guardians_see_only_their_childrens_meals(world, canteen, operator, api_client):
    for student in world.students[:2]:
        fund(student, "20.00")
        services.checkout_record(
            student=student, method="manual", idempotency_key=f"g-{student.pk}", actor=operator, window=canteen.window
        )
    api_client.force_authenticate(world.user("guardian"))
    rows = api_client.get(URL).json()["results"]
    assert [r["student_id"] for r in rows] == [str(world.students[0].pk)]


def test_the_checkout_answer_carries_the_record_exactly_as_the_records_api_shows_it(
    world, canteen, registered_terminal, api_client
):
    """The checkout writes its record out by hand (speed); the records API uses the serializer.
    The kiosk and the records page must never disagree."""
    from canteen.consumption.api.serializers import MealRecordSerializer

    terminal, token = registered_terminal
    student = world.students[0]
    fund(student, "20.00")
    reply = as_terminal(api_client, token).post(
        URL, {"method": "qr", "qr_token": _qr(student)}, format="json", HTTP_IDEMPOTENCY_KEY="same-shape"
    )
    assert reply.status_code == 201
    import json

    from rest_framework.renderers import JSONRenderer

    record = MealRecord.objects.select_related("student", "window").get()
    assert reply.json()["record"] == json.loads(JSONRenderer().render(MealRecordSerializer(record).data))


def test_a_key_is_bound_to_its_terminal_and_its_student(world, canteen, registered_terminal, api_client):
    """A retry replays; the same key from another terminal, or for another student, is refused
    rather than handing back somebody else's meal."""
    from canteen.consumption.services import terminal_register

    terminal, token = registered_terminal
    first, second = world.students[0], world.students[1]
    fund(first, "20.00")
    fund(second, "20.00")
    client = as_terminal(api_client, token)
    assert (
        client.post(URL, {"method": "qr", "qr_token": _qr(first)}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )
    other = client.post(URL, {"method": "qr", "qr_token": _qr(second)}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert other.status_code == 422, other.json()
    assert other.json()["error"]["code"] == "idempotency_key_reused"

    from canteen.org.models import User

    manager = User.objects.get(role="canteen_manager", campus=first.campus)
    _other_terminal, other_token = terminal_register(window=canteen.window, actor=manager, code="T-OTHER")
    elsewhere = as_terminal(api_client, other_token).post(
        URL, {"method": "qr", "qr_token": _qr(first)}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert elsewhere.status_code == 422
    assert MealRecord.objects.count() == 1
    assert balance(second) == 2000


def test_a_deactivated_terminal_is_refused_at_once(world, canteen, registered_terminal, api_client):
    from canteen.consumption.services import terminal_deactivate
    from canteen.org.models import User

    terminal, token = registered_terminal
    student = world.students[0]
    fund(student, "20.00")
    client = as_terminal(api_client, token)
    assert client.get("/api/v1/consumption/terminal/me/").status_code == 200  # now cached
    manager = User.objects.get(role="canteen_manager", campus=student.campus)
    terminal_deactivate(terminal=terminal, actor=manager)
    reply = client.post(URL, {"method": "qr", "qr_token": _qr(student)}, format="json", HTTP_IDEMPOTENCY_KEY="late")
    assert reply.status_code == 403, reply.json()
    assert MealRecord.objects.count() == 0


def test_a_terminals_gallery_download_is_audited_with_the_terminal_as_actor(world, registered_terminal, api_client):
    from canteen.core.models import AuditEvent

    terminal, token = registered_terminal
    assert as_terminal(api_client, token).get("/api/v1/consumption/terminal/gallery/").status_code == 200
    read = AuditEvent.objects.get(action="identity.templates_accessed", target_id=str(terminal.campus_id))
    assert read.actor_label == f"terminal:{terminal.code}"
    fetched = AuditEvent.objects.get(action="consumption.gallery_fetched")
    assert fetched.actor_label == f"terminal:{terminal.code}"
