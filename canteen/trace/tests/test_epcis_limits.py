"""Huge and deep EPCIS bodies: refused with a clear 4xx before the body is read, memory stays
bounded, nothing is written. The requests go through the real WSGI handler (every middleware)
with a body that is generated as it is read, so a 60 MB upload never exists in the test either."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from django.conf import settings
from django.test.client import ClientHandler

from canteen.accounts.services import token_issue
from canteen.org.choices import Role
from canteen.trace.models import EpcisEvent

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


class GeneratedBody:
    """A WSGI input of `size` bytes made on demand; counts what the server reads."""

    def __init__(self, size: int, head: bytes = b'{"type": "EPCISDocument", "x": "') -> None:
        self.size = size
        self.head = head
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.read_bytes
        n = left if n is None or n < 0 else min(n, left)
        start = self.read_bytes
        self.read_bytes += n
        head = self.head[start : start + n]
        return head + b"a" * (n - len(head))

    def readline(self, n: int = -1) -> bytes:
        return self.read(n)


def _call(path: str, body: GeneratedBody, *, content_type: str, declared: int | None, **headers: str):
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "wsgi.errors": None,
        "CONTENT_TYPE": content_type,
        **headers,
    }
    if declared is not None:
        environ["CONTENT_LENGTH"] = str(declared)
    tracemalloc.start()
    try:
        # The test client's handler: the WSGI handler with every middleware, minus closing the
        # test's database connection at the end of the request.
        response = ClientHandler()(environ)
        content = response.content
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response.status_code, content, peak


@pytest.mark.parametrize("size_mb", [10, 60])
def test_a_huge_capture_is_refused_before_it_is_read(journey, size_mb):
    _token, key = token_issue(user=journey.world.user(Role.DISTRICT_REGULATOR))
    before = EpcisEvent.objects.count()
    for path in ("/api/v1/trace/epcis/capture", "/api/v1/trace/epcis/"):
        # A small request first: it pays for the first-request imports and is the yardstick.
        small = GeneratedBody(1024)
        _s, _c, baseline = _call(
            path, small, content_type="application/ld+json", declared=1024, HTTP_AUTHORIZATION=f"Token {key}"
        )
        assert small.read_bytes == 1024
        body = GeneratedBody(size_mb * MB)
        status, content, peak = _call(
            path,
            body,
            content_type="application/ld+json",
            declared=size_mb * MB,
            HTTP_AUTHORIZATION=f"Token {key}",
        )
        assert status == 413, content[:300]
        assert json.loads(content)["error"]["code"] == "epcis_document_too_large"
        assert body.read_bytes == 0
        assert peak < baseline + MB, f"peak {peak / MB:.1f} MB, a 1 kB request {baseline / MB:.1f} MB"
    assert EpcisEvent.objects.count() == before


def test_a_body_longer_than_it_says_is_cut_at_the_limit(journey):
    """A client that declares little and sends a lot gets what it declared read, no more."""
    _token, key = token_issue(user=journey.world.user(Role.DISTRICT_REGULATOR))
    warm = GeneratedBody(MB)
    _s, _c, baseline = _call(
        "/api/v1/trace/epcis/capture",
        warm,
        content_type="application/ld+json",
        declared=MB,
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    body = GeneratedBody(60 * MB)
    status, content, peak = _call(
        "/api/v1/trace/epcis/capture",
        body,
        content_type="application/ld+json",
        declared=MB,
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert status == 422
    assert body.read_bytes <= MB
    assert peak < baseline + MB


def test_a_huge_upload_on_the_import_page_is_refused_before_it_is_read(journey, client):
    client.force_login(journey.world.user(Role.DISTRICT_REGULATOR))
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    warm = GeneratedBody(10, head=b"--x--\r\n")
    _s, _c, baseline = _call(
        "/trace/epcis/import/", warm, content_type="multipart/form-data; boundary=x", declared=10, HTTP_COOKIE=cookie
    )
    body = GeneratedBody(60 * MB, head=b"--x\r\n")
    status, content, peak = _call(
        "/trace/epcis/import/",
        body,
        content_type="multipart/form-data; boundary=x",
        declared=60 * MB,
        HTTP_COOKIE=cookie,
    )
    assert status == 413
    assert body.read_bytes == 0
    assert peak < baseline + MB
    assert "EPCIS" in content.decode()


def test_deep_nesting_is_a_clear_4xx(journey, api_client):
    api_client.force_authenticate(journey.world.user(Role.DISTRICT_REGULATOR))
    bomb = b"[" * 200_000 + b"]" * 200_000
    response = api_client.post("/api/v1/trace/epcis/capture", data=bomb, content_type="application/ld+json")
    assert response.status_code == 422
    assert "nested deeper" in response.json()["error"]["details"]["reason"]
    assert not EpcisEvent.objects.filter(imported=True).exists()
