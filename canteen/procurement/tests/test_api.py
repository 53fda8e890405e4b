"""The API from order to plate: idempotent writes, one error body, scoped reads."""

from datetime import timedelta

import pytest
from django.utils import timezone

from canteen.org.choices import Role
from canteen.procurement.models import Batch, PurchaseOrder

from .factories import qc_pdf, regulator_of

pytestmark = pytest.mark.django_db
API = "/api/v1/procurement/"


def _as(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_order_to_stock_issue_over_the_api(api_client, proc):
    manager = proc.user(Role.CANTEEN_MANAGER)
    c = _as(api_client, manager)
    today = timezone.localdate()
    body = {
        "supplier": str(proc.supplier.pk),
        "delivery_day": str(today),
        "meal_kind": "lunch",
        "lines": [{"item": str(proc.cabbage.pk), "quantity": "20"}, {"item": str(proc.pork.pk), "quantity": "5.5"}],
        "submit": True,
    }
    first = c.post(API + "orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == 201, first.content
    replay = c.post(API + "orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert PurchaseOrder.objects.count() == 1
    assert c.post(API + "orders/", body, format="json").status_code == 400  # no key
    order = first.json()
    assert order["status"] == "submitted"
    assert order["total_fen"] == 20 * 250 + 143 * 100

    # A move that is not allowed: one error body, 409.
    refused = c.post(API + f"orders/{order['id']}/transition/", {"action": "send"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"

    _as(api_client, proc.user(Role.SCHOOL_ADMIN)).post(
        API + f"orders/{order['id']}/transition/", {"action": "approve"}, format="json"
    )
    _as(api_client, manager).post(API + f"orders/{order['id']}/transition/", {"action": "send"}, format="json")
    c = _as(api_client, proc.user(Role.SUPPLIER_USER))
    confirmed = c.post(API + f"orders/{order['id']}/transition/", {"action": "confirm"}, format="json").json()
    assert [h["to"] for h in confirmed["history"]] == ["draft", "submitted", "approved", "sent", "confirmed"]
    lines = {line["item"]: line["id"] for line in confirmed["lines"]}
    produced = str(today - timedelta(days=1))
    delivery = c.post(
        API + f"orders/{order['id']}/deliveries/",
        {
            "vehicle_plate": "鄂D·10001",
            "lines": [
                {
                    "order_line": lines["大白菜"],
                    "quantity": "20",
                    "batch_number": "C-1",
                    "producer": "基地",
                    "production_date": produced,
                    "quick_tests": [{"test": "pesticide_residue", "value": "8", "unit": "%", "passed": True}],
                },
                {
                    "order_line": lines["猪肉（后腿）"],
                    "quantity": "5.5",
                    "batch_number": "P-1",
                    "producer": "屠宰场",
                    "production_date": produced,
                },
            ],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="dl-1",
    )
    assert delivery.status_code == 201, delivery.content
    d = delivery.json()
    for line in d["lines"]:
        upload = c.post(API + f"batches/{line['batch_id']}/qc-report/", {"file": qc_pdf()}, format="multipart")
        assert upload.status_code == 200, upload.content
    bad = c.post(
        API + f"batches/{d['lines'][0]['batch_id']}/qc-report/",
        {"file": qc_pdf("x.pdf").__class__("x.pdf", b"<html>", content_type="application/pdf")},
        format="multipart",
    )
    assert bad.json()["error"]["code"] == "invalid_upload"

    c = _as(api_client, proc.user(Role.STOREKEEPER))
    by_item = {line["item"]: line["id"] for line in d["lines"]}
    accepted = c.post(
        API + f"deliveries/{d['id']}/accept/",
        {
            "temperature_c": "4.0",
            "decisions": [
                {"line": by_item["大白菜"], "result": "partial", "accepted_quantity": "18", "reason": "2kg 烂叶"},
                {"line": by_item["猪肉（后腿）"], "result": "accept", "temperature_c": "3.0"},
            ],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="acc-1",
    )
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "partially_accepted"
    assert accepted.json()["accepted_fen"] == 18 * 250 + 14300

    issue = c.post(
        API + "stock/issue/",
        {"item": str(proc.pork.pk), "quantity": "5", "day": str(today), "meal_kind": "lunch", "dish_name": "红烧肉"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="is-1",
    )
    assert issue.status_code == 201, issue.content
    pork = Batch.objects.get(batch_number="P-1")
    assert issue.json()["batches"] == [{"batch_id": str(pork.pk), "quantity": "5.000"}]
    stock = {row["item"]: row["on_hand"] for row in c.get(API + "stock/").json()}
    assert stock == {"大白菜": "18.000", "猪肉（后腿）": "0.500"}
    detail = c.get(API + f"batches/{pork.pk}/").json()
    assert detail["issues"][0]["dish_name"] == "红烧肉"
    assert detail["acceptance"]["result"] == "accept"

    reg = _as(api_client, regulator_of(proc.world, proc.world.districts[0]))
    demand = reg.get(API + "demand/", {"day": str(today)}).json()
    assert demand["suppliers"][0]["supplier"] == proc.supplier.name
    # A guardian sees no batch.
    assert _as(api_client, proc.user(Role.GUARDIAN)).get(API + f"batches/{pork.pk}/").status_code == 404


def test_failed_acceptance_is_not_stored_as_a_replay(api_client, proc):
    """A domain error rolls back and is not remembered: the corrected retry with the same key runs."""
    from canteen.procurement import services

    from .factories import batch_line, make_confirmed_order

    order = make_confirmed_order(proc.world, proc.supplier, [(proc.rice, "1")])
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER), order=order, lines=[batch_line(order.lines.get(), "1")]
    )
    c = _as(api_client, proc.user(Role.STOREKEEPER))
    line = str(delivery.lines.get().pk)
    bad = c.post(
        API + f"deliveries/{delivery.pk}/accept/",
        {"decisions": [{"line": line, "result": "reject"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "validation_failed"
    good = c.post(
        API + f"deliveries/{delivery.pk}/accept/",
        {"decisions": [{"line": line, "result": "reject", "reason": "包装破损"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert good.json()["status"] == "rejected"


def test_issue_a_meal_over_the_api(api_client, proc):
    from canteen.procurement import services

    from .factories import batch_line, make_confirmed_order

    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "10"), (proc.pork, "4")])
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=order,
        lines=[batch_line(ln, ln.quantity) for ln in order.lines.all()],
    )
    services.delivery_accept(
        actor=proc.user(Role.STOREKEEPER),
        delivery=delivery,
        decisions=[{"line": dl, "result": "accept"} for dl in delivery.lines.all()],
    )
    c = _as(api_client, proc.user(Role.STOREKEEPER))
    body = {
        "day": str(timezone.localdate()),
        "meal_kind": "lunch",
        "lines": [
            {"item": str(proc.cabbage.pk), "quantity": "6", "dish_name": "白菜炒肉"},
            {"item": str(proc.pork.pk), "quantity": "5", "dish_name": "白菜炒肉"},
        ],
    }
    short = c.post(API + "stock/issue-meal/", body, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    assert short.status_code == 409
    assert short.json()["error"]["details"]["shortages"][0]["item"] == "猪肉（后腿）"
    body["lines"][1]["quantity"] = "3"
    ok = c.post(API + "stock/issue-meal/", body, format="json", HTTP_IDEMPOTENCY_KEY="m2")
    assert ok.status_code == 201, ok.content
    assert {m["quantity"] for m in ok.json()["movements"]} == {"6.000", "3.000"}
    assert sorted(str(b.on_hand) for b in Batch.objects.all()) == ["1.000", "4.000"]
