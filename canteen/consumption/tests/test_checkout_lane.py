"""A terminal's checkout takes the express lane (canteen.core.lanes): fewer middleware, no URL
resolving. The window must not be able to tell: one scripted lunch is sent through the web
process's handler (canteen.wsgi, with the lane) and through Django's own, and every status, body
and header compared, the refusals DRF words inside the lane included."""

from __future__ import annotations

import json

import pytest
from django.core import signals
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.test import RequestFactory, override_settings

from canteen.core import lanes

from .conftest import fund, recording
from .test_checkout_api import URL
from .test_checkout_api_paths import _script

pytestmark = pytest.mark.django_db


@pytest.fixture
def handlers():
    # As Django's test client: a request must not close the test's connection (its transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield lanes.LanedWSGIHandler(), WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _environ(method: str, body, headers: dict, authorization: str | None) -> dict:
    extra = dict(headers)
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    factory = RequestFactory()
    if body == "form":
        return factory.post(URL, {"method": "qr", "qr_token": "x"}, **extra).environ
    if method == "GET":
        return factory.get(URL, **extra).environ
    data = body if isinstance(body, str) else json.dumps(body)
    return factory.generic(method, URL, data, content_type="application/json", **extra).environ


def _call(handler, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    """What a WSGI server would send back, as gunicorn calls the application."""
    started = []
    response = handler(dict(environ), lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        body = b"".join(response)
    finally:
        response.close()
    status, headers = started[0]
    return status, headers, body


def _comparable(status: str, header_list: list[tuple[str, str]], body: bytes) -> tuple:
    headers = dict(header_list)
    assert len(headers) == len(header_list)  # no header twice (a cookie set by a middleware, say)
    assert headers.pop("X-Request-ID")  # a fresh id on each side
    assert int(headers.pop("Content-Length")) == len(body)
    data = json.loads(body) if body else None
    if isinstance(data, dict) and "record" in data:
        data["record"] = {
            k: v for k, v in data["record"].items() if k not in {"id", "posting_id", "served_at", "created_at"}
        }
    if isinstance(data, dict) and "error" in data:
        data["error"].get("details", {}).pop("served_at", None)
    if isinstance(data, dict) and "results" in data:
        data = {"count": data.get("count"), "results": len(data["results"])}
    return status, headers, data


def test_a_terminal_cannot_tell_the_lane_from_the_whole_chain(
    world, canteen, registered_terminal, handlers, monkeypatch
):
    _terminal, token = registered_terminal
    student, poor, unconsented = [s for s in world.students if s.campus_id == canteen.campus.pk][:3]
    fund(student, "20.00")
    fund(poor, "1.00")
    script = [("POST", *step) for step in _script(student, poor, unconsented, token)]
    script += [
        ("GET", "the day's records", None, {}, f"Terminal {token}"),
        ("POST", "no credential at all", {"method": "qr", "qr_token": "x"}, {"HTTP_IDEMPOTENCY_KEY": "k20"}, None),
        ("POST", "a user's token", {"method": "qr", "qr_token": "x"}, {"HTTP_IDEMPOTENCY_KEY": "k21"}, "Token abc"),
        (
            "POST",
            "English asked",
            {"method": "qr", "qr_token": "x"},
            {"HTTP_ACCEPT_LANGUAGE": "en"},
            f"Terminal {token}",
        ),
    ]
    laned, whole = handlers
    taken = []
    monkeypatch.setattr(laned, "_route_for", recording(laned._route_for, taken))

    seen = {}
    for name, handler in (("lane", laned), ("whole", whole)):
        with transaction.atomic():
            seen[name] = [_comparable(*_call(handler, _environ(m, *step[1:]))) for m, *step in script]
            transaction.set_rollback(True)  # both start from the same wallets
    for step, in_lane, in_whole in zip(script, seen["lane"], seen["whole"], strict=True):
        assert in_lane == in_whole, step[1]

    names = [step[1] for step in script]
    lane_taken = dict(zip(names, taken, strict=True))
    # Every POST that names a terminal takes the lane, those DRF refuses inside it too...
    assert all(lane_taken[name] for name in names[: len(script) - 4])
    assert lane_taken["English asked"]
    # ...and nothing else does.
    assert not any(lane_taken[name] for name in ("the day's records", "no credential at all", "a user's token"))
    answers = dict(zip(names, seen["lane"], strict=True))
    assert answers["served"][0].startswith("201")
    assert answers["retry"][1]["Idempotent-Replayed"] == "true"
    # The headers the lane's middleware adds are there: security, frame, language.
    headers = answers["served"][1]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Accept-Language" in headers["Vary"]
    # A form body is DRF's to parse, inside the lane as outside it: the card "x" is then refused.
    assert answers["form body"][2]["error"]["code"] == "credential_invalid"
    assert answers["wrong token"][0].startswith("401")


def test_a_crash_inside_the_checkout_is_answered_as_the_whole_chain_does_and_charges_nothing(
    world, canteen, registered_terminal, handlers, monkeypatch
):
    from canteen.consumption import services
    from canteen.consumption.models import MealRecord

    from .test_checkout_api import _qr

    _terminal, token = registered_terminal
    student = next(s for s in world.students if s.campus_id == canteen.campus.pk)
    fund(student, "20.00")

    def crash(**kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services, "checkout_at_window", crash)
    body = {"method": "qr", "qr_token": _qr(student)}
    laned, whole = handlers
    answers = [
        _call(handler, _environ("POST", body, {"HTTP_IDEMPOTENCY_KEY": "crash"}, f"Terminal {token}"))
        for handler in (laned, whole)
    ]
    assert answers[0][0] == answers[1][0] == "500 Internal Server Error"
    assert answers[0][2] == answers[1][2]
    assert not MealRecord.objects.filter(idempotency_key="crash").exists()


class ViewHooked:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        return None


def test_a_middleware_the_lane_cannot_run_stops_the_web_process_at_start(settings):
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, f"{__name__}.ViewHooked"]):
        with pytest.raises(ImproperlyConfigured, match="process_view"):
            lanes.LanedWSGIHandler()
