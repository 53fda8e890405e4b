"""What the checkout API answers when a request is reused or the database goes away, and what the
kiosk then shows: a key is bound to its whole request, a lost database connection is a JSON
503 (never Django's HTML page), and a refused QR card still shows the pupil's name."""

from __future__ import annotations

import time
from datetime import time as clock

import psycopg
import pytest
from django.db import connection

from canteen.consumption.models import MealRecord
from canteen.consumption.terminal.agent import TerminalAgent
from canteen.consumption.terminal.client import ServerClient
from canteen.consumption.terminal.kiosk import KioskState
from canteen.consumption.terminal.store import Store

from .conftest import balance, fund
from .test_checkout_api import URL, _qr, as_terminal


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["one call", "python"])
def test_a_key_reused_with_another_body_is_refused_without_naming_anyone(
    world, canteen, registered_terminal, api_client, settings, path
):
    from canteen.consumption.services import terminal_register
    from canteen.org.models import User

    settings.CANTEEN_CHECKOUT_DB_FUNCTION = path == "one call"
    _terminal, token = registered_terminal
    pupil = world.students[0]
    fund(pupil, "20.00")
    client = as_terminal(api_client, token)
    body = {"method": "face", "student_id": str(pupil.pk), "match_distance": 0.2}
    from canteen.identity import services as identity_services

    from .conftest import guardian_user_of

    identity_services.consent_give(student=pupil, actor=guardian_user_of(pupil))
    assert client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    # The very same request again: replayed.
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    # Same key, same pupil, same terminal, another body: another checkout, refused.
    other = client.post(URL, {**body, "match_distance": 0.3}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422, other.json()
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "学生" not in error["message_zh"]
    assert "student" not in error["message_en"]
    assert pupil.name not in str(error)
    # From another terminal of the campus, for the same pupil: refused, and says no pupil.
    manager = User.objects.get(role="canteen_manager", campus=pupil.campus)
    _other, other_token = terminal_register(window=canteen.window, actor=manager, code="T-OTHER")
    elsewhere = as_terminal(api_client, other_token).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert elsewhere.status_code == 422
    assert "另一名学生" not in elsewhere.json()["error"]["message_zh"]
    assert MealRecord.objects.count() == 1
    assert balance(pupil) == 2000 - canteen.price_fen


def _drop_connection() -> None:
    """Terminate this process's database session from another one, as a PostgreSQL restart or
    a network cut does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("request_kind", ["checkout", "me"])
def test_a_dropped_database_connection_answers_json_not_an_html_page(
    world, canteen, registered_terminal, api_client, request_kind
):
    if connection.vendor != "postgresql":
        pytest.skip("terminates a PostgreSQL session")
    from django.test import Client

    _terminal, token = registered_terminal
    pupil = world.students[0]
    fund(pupil, "20.00")
    qr = _qr(pupil)
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Terminal {token}")
    _drop_connection()
    if request_kind == "checkout":
        reply = client.post(
            URL, {"method": "qr", "qr_token": qr}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="db-1"
        )
    else:
        reply = client.get("/api/v1/consumption/terminal/me/")
    assert reply.status_code == 503, reply.content[:300]
    assert reply["Content-Type"].startswith("application/json")
    assert reply.json()["error"]["code"] == "database_unavailable"
    assert reply["Retry-After"]
    # The next request of the process finds a working connection; the retry is served.
    if request_kind == "checkout":
        retry = client.post(
            URL, {"method": "qr", "qr_token": qr}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="db-1"
        )
        assert retry.status_code == 201, retry.content[:300]
        assert MealRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_qr_card_refused_outside_meal_times_shows_the_pupils_name(
    world, canteen, registered_terminal, live_server, tmp_path
):
    from canteen.meals import services as meals_services
    from canteen.meals.choices import SessionKind

    _terminal, token = registered_terminal
    pupil = world.students[0]
    fund(pupil, "20.00")
    agent = TerminalAgent(
        client=ServerClient(live_server.url, token, timeout=5),
        store=Store(tmp_path / "t.sqlite3"),
        kiosk=KioskState(),
        token=token,
        cooldown=0,
    )
    agent.start()
    assert agent.refresh()
    # Lunch is over (a one-second lunch at midnight).
    meals_services.meal_session_set(
        actor=None, campus=canteen.campus, kind=SessionKind.LUNCH, serve_start=clock(0, 0), serve_end=clock(0, 0, 1)
    )
    shown = agent.checkout(student_id="", frame_ts=time.time(), method="qr", qr_token=_qr(pupil))
    assert shown == "refused"
    screen = agent.kiosk.snapshot()
    assert screen["student"]["name"] == pupil.name
    assert screen["code"] == "no_meal_offered"
    assert "二维码卡" not in str(screen)
