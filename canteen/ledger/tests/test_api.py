"""The ledger API: money-moving endpoints demand an Idempotency-Key and replay on retry."""

import pytest

from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.models import Posting
from canteen.ledger.providers import DemoProvider
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def test_a_window_charge_retried_with_the_same_key_is_replayed(world, api_client):
    student = world.students[0]
    services.top_up(student=student, amount=Money(1_000), channel="cash", idempotency_key="t", actor=None)
    api_client.force_authenticate(world.user(Role.WINDOW_OPERATOR))
    body = {"student": str(student.pk), "amount_fen": 600, "meal_ref": "lunch"}
    first = api_client.post("/api/v1/ledger/meal-charges/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_client.post("/api/v1/ledger/meal-charges/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert balance_of(student=student) == Money(400)
    refused = api_client.post("/api/v1/ledger/meal-charges/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_funds"
    assert refused.json()["error"]["details"] == {"balance_fen": 400, "amount_fen": 600, "floor_fen": 0}
    missing = api_client.post("/api/v1/ledger/meal-charges/", body, format="json")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "idempotency_key_missing"


def test_a_window_operator_cannot_charge_a_student_of_another_campus(world, api_client):
    api_client.force_authenticate(world.user(Role.WINDOW_OPERATOR))
    far = world.students[-1]
    response = api_client.post(
        "/api/v1/ledger/meal-charges/",
        {"student": str(far.pk), "amount_fen": 100},
        format="json",
        HTTP_IDEMPOTENCY_KEY="x",
    )
    assert response.status_code == 404


def test_a_guardian_cannot_charge_meals(world, api_client):
    api_client.force_authenticate(world.user(Role.GUARDIAN))
    response = api_client.post(
        "/api/v1/ledger/meal-charges/",
        {"student": str(world.students[0].pk), "amount_fen": 100},
        format="json",
        HTTP_IDEMPOTENCY_KEY="x",
    )
    assert response.status_code == 403


def test_office_top_up_void_and_closure(world, api_client):
    student = world.students[0]
    api_client.force_authenticate(world.user(Role.CANTEEN_MANAGER))
    top = api_client.post(
        "/api/v1/ledger/top-ups/",
        {"student": str(student.pk), "amount_fen": 5_000, "channel": "cash"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="top-1",
    )
    assert top.status_code == 201
    charge = api_client.post(
        "/api/v1/ledger/meal-charges/",
        {"student": str(student.pk), "amount_fen": 700},
        format="json",
        HTTP_IDEMPOTENCY_KEY="meal-1",
    )
    void = api_client.post(
        f"/api/v1/ledger/postings/{charge.json()['id']}/reverse/",
        {"reason": "打错"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="void-1",
    )
    assert void.status_code == 201
    assert void.json()["kind"] == "meal_reverse"
    assert balance_of(student=student) == Money(5_000)
    closed = api_client.post(
        "/api/v1/ledger/closures/",
        {"student": str(student.pk), "reason": "转学"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="close-1",
    )
    assert closed.status_code == 201
    assert closed.json()["amount_fen"] == 5_000
    assert balance_of(student=student) == Money(0)
    after = api_client.post(
        "/api/v1/ledger/top-ups/",
        {"student": str(student.pk), "amount_fen": 100, "channel": "cash"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="top-2",
    )
    assert after.status_code == 409
    assert after.json()["error"]["code"] == "account_closed"


def test_the_provider_callback_endpoint_verifies_the_signature(world, api_client):
    guardian = world.user(Role.GUARDIAN)
    api_client.force_authenticate(guardian)
    created = api_client.post(
        "/api/v1/ledger/online-top-ups/",
        {"student": str(world.students[0].pk), "amount_fen": 3_000},
        format="json",
        HTTP_IDEMPOTENCY_KEY="o-1",
    )
    assert created.status_code == 201
    from canteen.ledger.models import TopUpOrder

    order = TopUpOrder.objects.get(out_trade_no=created.json()["out_trade_no"])
    body, signature = DemoProvider().pay(order)
    api_client.force_authenticate(None)
    bad = api_client.post("/api/v1/ledger/provider/demo/notify/", body, format="json", HTTP_X_SIGNATURE="00")
    assert bad.status_code == 400
    for _ in range(2):
        ok = api_client.post("/api/v1/ledger/provider/demo/notify/", body, format="json", HTTP_X_SIGNATURE=signature)
        assert ok.status_code == 200
    assert Posting.objects.filter(kind="top_up").count() == 1
    assert balance_of(student=world.students[0]) == Money(3_000)


def test_guardian_statement_and_settings_over_the_api(world, api_client):
    child = world.students[0]
    services.top_up(student=child, amount=Money(1_000), channel="cash", idempotency_key="t", actor=None)
    api_client.force_authenticate(world.user(Role.GUARDIAN))
    lines = api_client.get(f"/api/v1/ledger/students/{child.pk}/statement/").json()
    assert [(line["amount_fen"], line["balance_fen"]) for line in lines] == [(1_000, 1_000)]
    assert api_client.get(f"/api/v1/ledger/students/{world.students[3].pk}/statement/").status_code == 404
    put = api_client.put(
        f"/api/v1/ledger/students/{child.pk}/settings/",
        {"daily_limit_fen": 1500, "low_balance_alert_fen": 500},
        format="json",
    )
    assert put.status_code == 200
    assert put.json()["daily_limit_fen"] == 1500
    wallets = api_client.get("/api/v1/ledger/wallets/").json()
    assert [w["student"] for w in wallets] == [str(child.pk)]


def test_a_partial_refund_is_idempotent_and_guarded(world, api_client):
    student = world.students[0]
    services.top_up(student=student, amount=Money(1_000), channel="cash", idempotency_key="t", actor=None)
    api_client.force_authenticate(world.user(Role.SCHOOL_ADMIN))
    body = {"student": str(student.pk), "amount_fen": 400, "reason": "家长申请"}
    for _ in range(2):
        response = api_client.post("/api/v1/ledger/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
        assert response.status_code == 201
    assert balance_of(student=student) == Money(600)
    too_much = api_client.post(
        "/api/v1/ledger/refunds/", dict(body, amount_fen=700), format="json", HTTP_IDEMPOTENCY_KEY="r-2"
    )
    assert too_much.status_code == 402
