"""Lineage both ways, the recall query a regulator runs when a lot is found unsafe, and the
recall that notifies the campuses."""

import pytest

from canteen.core.models import OutboxEvent
from canteen.org.choices import Role
from canteen.procurement import services as proc
from canteen.procurement.choices import MealKind
from canteen.trace import selectors, services
from canteen.trace.errors import RecallExists
from canteen.trace.models import Recall, TraceCode

from .conftest import deliver_and_accept

pytestmark = pytest.mark.django_db


def test_forward_lineage_lists_meals_and_dishes(journey):
    rows = selectors.batch_lineage(batch_ids=[journey.pork_code.batch_id])
    assert len(rows) == 1
    assert rows[0]["meal_kind"] == MealKind.LUNCH
    assert rows[0]["day"] == journey.day
    assert [d["name"] for d in rows[0]["dishes"]] == ["青椒肉丝"]
    assert str(rows[0]["quantity"]) == "5.000"


def test_backward_lineage_from_a_dish_to_its_batches(journey):
    actor = journey.world.user(Role.CANTEEN_MANAGER)
    both = selectors.dish_batches(actor=actor, campus=journey.world.campuses[0], day=journey.day, meal_kind="lunch")
    assert {b["item"] for b in both} == {"大白菜", "猪肉（后腿）"}
    assert all(b["trace_code"] for b in both)
    # a campus outside the manager's scope answers nothing
    other = selectors.dish_batches(actor=actor, campus=journey.world.campuses[3], day=journey.day, meal_kind="lunch")
    assert other == []


def test_recall_query_reaches_every_campus_that_got_the_same_lot(journey, world):
    # The same pork lot also went to a second campus, which served it the next day.
    second = deliver_and_accept(
        world,
        campus=world.campuses[1],
        supplier=journey.supplier,
        items=(journey.extra["cabbage"], journey.extra["pork"]),
    )
    codes = TraceCode.objects.filter(lot="PK-7788")
    assert codes.count() == 2
    proc.stock_issue(
        actor=world.user(Role.STOREKEEPER),
        campus=world.campuses[1],
        item=second["pork"],
        quantity="3",
        day=journey.day,
        meal_kind=MealKind.DINNER,
        dish_name="红烧肉",
    )
    result = selectors.recall_query(actor=world.user(Role.DISTRICT_REGULATOR), code=journey.pork_code)
    by_campus = {c["campus_id"]: c for c in result["campuses"]}
    assert set(by_campus) == {str(world.campuses[0].pk), str(world.campuses[1].pk)}
    first, other = by_campus[str(world.campuses[0].pk)], by_campus[str(world.campuses[1].pk)]
    assert [s["dishes"] for s in first["served"]] == [["青椒肉丝"]]
    assert [(s["meal_kind"], s["dishes"]) for s in other["served"]] == [("dinner", ["红烧肉"])]
    assert first["on_hand"] == "3.000"  # 8 accepted, 5 issued
    assert other["on_hand"] == "5.000"  # 8 accepted, 3 issued
    assert len(result["batch_ids"]) == 2
    # the cabbage lot is not part of this recall
    assert str(journey.cabbage_code.batch_id) not in result["batch_ids"]


def test_raising_a_recall_freezes_the_list_and_notifies(journey):
    regulator = journey.world.user(Role.DISTRICT_REGULATOR)
    recall = services.recall_raise(actor=regulator, code=journey.pork_code, reason="兽药残留超标")
    assert recall.affected["campuses"][0]["campus_id"] == str(journey.world.campuses[0].pk)
    event = OutboxEvent.objects.get(topic="trace.recall_started")
    assert event.payload["campus_ids"] == [str(journey.world.campuses[0].pk)]
    with pytest.raises(RecallExists):
        services.recall_raise(actor=regulator, code=journey.pork_code, reason="again")
    assert Recall.objects.count() == 1


def test_recall_api_is_scoped(journey, api_client):
    api_client.force_authenticate(journey.world.user(Role.GUARDIAN))
    assert api_client.get(f"/api/v1/trace/recall/{journey.pork_code.code}/").status_code == 404
    api_client.force_authenticate(journey.world.user(Role.DISTRICT_REGULATOR))
    response = api_client.get(f"/api/v1/trace/recall/{journey.pork_code.code}/")
    assert response.status_code == 200
    assert response.json()["lot"] == "PK-7788"
    raised = api_client.post(f"/api/v1/trace/recall/{journey.pork_code.code}/", {"reason": "抽检不合格"}, format="json")
    assert raised.status_code == 201
