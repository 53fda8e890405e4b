"""A terminal's checkout is answered without DRF's machinery (CheckoutView.dispatch), and answers
exactly as DRF's path does: one scripted lunch at a window, requests good and bad, is sent
through both, and every status, body and header that matters compared. Whatever the lean path
does not take (a bad token, a body or key that does not validate, another content type) must
reach DRF before anything runs, so that DRF words the refusal."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from canteen.consumption.api import views

from .conftest import fund, recording
from .test_checkout_api import URL, _qr

pytestmark = pytest.mark.django_db


def _script(student, poor, unconsented, token):
    good, other = _qr(student), _qr(poor)
    terminal = f"Terminal {token}"
    nan = '{"method": "face", "student_id": "' + str(unconsented.pk) + '", "match_distance": NaN}'
    return [
        ("served", {"method": "qr", "qr_token": good}, {"HTTP_IDEMPOTENCY_KEY": "k1"}, terminal),
        ("retry", {"method": "qr", "qr_token": good}, {"HTTP_IDEMPOTENCY_KEY": "k1"}, terminal),
        ("second try", {"method": "qr", "qr_token": good}, {"HTTP_IDEMPOTENCY_KEY": "k2"}, terminal),
        ("key of another student", {"method": "qr", "qr_token": other}, {"HTTP_IDEMPOTENCY_KEY": "k1"}, terminal),
        ("poor", {"method": "qr", "qr_token": other}, {"HTTP_IDEMPOTENCY_KEY": "k3"}, terminal),
        (
            "no consent",
            {"method": "face", "student_id": str(unconsented.pk), "match_distance": 0.3},
            {"HTTP_IDEMPOTENCY_KEY": "k4"},
            terminal,
        ),
        ("unknown", {"method": "face", "student_id": str(uuid.uuid4())}, {"HTTP_IDEMPOTENCY_KEY": "k5"}, terminal),
        ("forged card", {"method": "qr", "qr_token": good[:-2] + "xx"}, {"HTTP_IDEMPOTENCY_KEY": "k6"}, terminal),
        ("no key", {"method": "qr", "qr_token": good}, {}, terminal),
        ("long key", {"method": "qr", "qr_token": good}, {"HTTP_IDEMPOTENCY_KEY": "k" * 200}, terminal),
        ("no credential", {"method": "qr"}, {"HTTP_IDEMPOTENCY_KEY": "k7"}, terminal),
        ("bad method", {"method": "palm", "qr_token": good}, {"HTTP_IDEMPOTENCY_KEY": "k8"}, terminal),
        ("not a number", {"method": "face", "student_id": "x"}, {"HTTP_IDEMPOTENCY_KEY": "k9"}, terminal),
        ("NaN", nan, {"HTTP_IDEMPOTENCY_KEY": "k15"}, terminal),
        ("not JSON", '{"method": "qr", ', {"HTTP_IDEMPOTENCY_KEY": "k10"}, terminal),
        ("a list", "[1, 2]", {"HTTP_IDEMPOTENCY_KEY": "k11"}, terminal),
        ("wrong token", {"method": "qr", "qr_token": good}, {"HTTP_IDEMPOTENCY_KEY": "k12"}, "Terminal tm_x_y"),
        ("token in two", {"method": "qr", "qr_token": good}, {"HTTP_IDEMPOTENCY_KEY": "k13"}, f"{terminal} more"),
        ("form body", "form", {"HTTP_IDEMPOTENCY_KEY": "k14"}, terminal),
        (
            "wants XML",
            {"method": "qr", "qr_token": good},
            {"HTTP_IDEMPOTENCY_KEY": "k16", "HTTP_ACCEPT": "text/xml"},
            terminal,
        ),
        (
            "JSON asked",
            {"method": "qr", "qr_token": other},
            {"HTTP_IDEMPOTENCY_KEY": "k17", "HTTP_ACCEPT": "application/json"},
            terminal,
        ),
    ]


def _send(client, body, headers, authorization):
    if body == "form":
        return client.post(URL, {"method": "qr", "qr_token": "x"}, HTTP_AUTHORIZATION=authorization, **headers)
    if isinstance(body, str):
        return client.generic(
            "POST", URL, body, content_type="application/json", HTTP_AUTHORIZATION=authorization, **headers
        )
    return client.post(URL, body, format="json", HTTP_AUTHORIZATION=authorization, **headers)


def _answer(reply) -> tuple:
    body = reply.json()
    if "record" in body:
        body["record"] = {
            k: v for k, v in body["record"].items() if k not in {"id", "posting_id", "served_at", "created_at"}
        }
    if "error" in body:
        body["error"]["details"].pop("served_at", None)
    return (
        reply.status_code,
        body,
        reply["Content-Type"],
        reply.get("Idempotent-Replayed"),
        reply.get("WWW-Authenticate"),
    )


def test_the_lean_path_answers_every_request_as_drf_does(world, canteen, registered_terminal, api_client, monkeypatch):
    _terminal, token = registered_terminal
    student, poor, unconsented = [s for s in world.students if s.campus_id == canteen.campus.pk][:3]
    fund(student, "20.00")
    fund(poor, "1.00")
    script = _script(student, poor, unconsented, token)
    lean_calls = []
    counted = recording(views._terminal_checkout, lean_calls)
    seen = {}
    for path in ("lean", "drf"):
        monkeypatch.setattr(views, "_terminal_checkout", counted if path == "lean" else (lambda request: None))
        with transaction.atomic():
            seen[path] = [_answer(_send(api_client, *step[1:])) for step in script]
            transaction.set_rollback(True)  # both paths start from the same wallets
    for step, lean_answer, drf_answer in zip(script, seen["lean"], seen["drf"], strict=True):
        assert lean_answer == drf_answer, step[0]
    answered = dict(zip((step[0] for step in script), lean_calls, strict=True))
    statuses = dict(zip((step[0] for step in script), (a[0] for a in seen["lean"]), strict=True))
    # What a terminal sends in service is answered on the lean path, refusals of the service too.
    assert all(answered[name] for name in ("served", "retry", "second try", "poor", "no consent", "unknown"))
    assert statuses["served"] == statuses["retry"] == 201
    assert seen["lean"][1][3] == "true"
    assert (statuses["second try"], statuses["poor"], statuses["no consent"], statuses["unknown"]) == (
        409,
        402,
        403,
        404,
    )
    # What does not validate or authenticate went to DRF untouched.
    to_drf = ("no key", "long key", "no credential", "bad method", "not a number", "NaN", "not JSON", "a list")
    assert not any(answered[name] for name in (*to_drf, "wrong token", "token in two", "form body", "wants XML"))
    assert all(statuses[name] == 400 for name in to_drf)
    assert statuses["wrong token"] == statuses["token in two"] == 401
    assert statuses["wants XML"] == 406
    assert answered["JSON asked"]
