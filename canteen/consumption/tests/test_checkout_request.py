"""The checkout body is checked without building a serializer on the hot path; whatever it
accepts or refuses must be exactly what CheckoutRequestSerializer accepts or refuses."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.exceptions import ValidationError

from canteen.consumption.api.serializers import CheckoutRequestSerializer, checkout_request

STUDENT = str(uuid.uuid4())
WINDOW = str(uuid.uuid4())

WELL_FORMED = [
    {"method": "qr", "qr_token": "ct-card.abc:def"},
    {
        "method": "face",
        "student_id": STUDENT,
        "identified_at": "2026-11-24T11:32:05.123456+08:00",
        "match_distance": 0.31,
        "match_margin": 0.12,
    },
    {"method": "face", "student_id": STUDENT, "identified_at": "2026-11-24T03:32:05Z", "served_offline": True},
    {"method": "pin", "student_number": "20260101", "pin": "123456"},
    {"method": "manual", "student_id": STUDENT, "window_id": WINDOW},
    {"method": "qr", "qr_token": "card", "unknown_key": "ignored, as the serializer ignores it"},
    {"method": "qr", "qr_token": "  card read with spaces  "},  # trimmed, as the serializer trims
]

MALFORMED = [
    {},
    {"method": "cash"},
    {"method": "qr"},
    {"method": "qr", "qr_token": ""},
    {"method": "qr", "qr_token": "x" * 513},
    {"method": "face", "student_id": "not-a-uuid"},
    {"method": "face", "student_id": STUDENT, "match_distance": 3},
    {"method": "face", "student_id": STUDENT, "match_distance": "far"},
    {"method": "face", "student_id": STUDENT, "identified_at": "yesterday"},
    {"method": "pin", "student_number": "20260101"},
    {"method": "face", "student_id": STUDENT, "served_offline": "perhaps"},
    ["method", "qr"],
    "method=qr",
]


def _by_serializer(body):
    serializer = CheckoutRequestSerializer(data=body)
    if serializer.is_valid():
        return "ok", dict(serializer.validated_data)
    return "refused", serializer.errors


def _by_checkout_request(body):
    try:
        return "ok", dict(checkout_request(body))
    except ValidationError as exc:
        return "refused", exc.detail


@pytest.mark.parametrize("body", WELL_FORMED, ids=lambda b: b["method"])
def test_a_well_formed_body_gives_what_the_serializer_gives(body):
    assert _by_checkout_request(body) == _by_serializer(body)
    assert _by_checkout_request(body)[0] == "ok"


@pytest.mark.parametrize("body", MALFORMED, ids=repr)
def test_a_malformed_body_is_refused_with_the_serializers_words(body):
    assert _by_checkout_request(body) == _by_serializer(body)
    assert _by_checkout_request(body)[0] == "refused"
