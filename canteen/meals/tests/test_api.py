"""The meals API: menus of a day, the window's offer, idempotent menu writes, forecast."""

from datetime import date

import pytest

from canteen.meals.models import Menu
from canteen.meals.tests.factories import make_meal_setup
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 23)


@pytest.fixture
def setup(world):
    return make_meal_setup(world.campuses[0], day=DAY)


def test_menus_of_a_day_with_nutrition(api_client, world, setup):
    api_client.force_authenticate(world.user(Role.CANTEEN_MANAGER))
    response = api_client.get(f"/api/v1/meals/campuses/{setup.campus.id}/menus/?day=2026-11-23")
    assert response.status_code == 200
    lunch = response.json()[0]
    assert lunch["kind"] == "lunch"
    first = lunch["set_meals"][0]
    assert (first["name"], first["price_fen"], first["price"]) == ("标准套餐A", 600, "6.00")
    assert first["nutrition"]["energy_kcal"] == "763.2"
    assert first["allergens"] == ["gluten", "egg", "soy"]


def test_another_districts_campus_is_not_found(api_client, world, setup):
    api_client.force_authenticate(world.user(Role.CANTEEN_MANAGER))
    other = world.campuses[5]
    assert api_client.get(f"/api/v1/meals/campuses/{other.id}/menus/").status_code == 404


def test_offer_for_a_student(api_client, world, setup):
    api_client.force_authenticate(world.user(Role.WINDOW_OPERATOR))
    student = world.students[0]
    response = api_client.get(f"/api/v1/meals/offer/?student={student.id}&at=2026-11-23T12:10:00%2B08:00")
    assert response.status_code == 200
    assert response.json()["set_meal_name"] == "标准套餐A"
    assert response.json()["price_fen"] == 600
    assert api_client.get(f"/api/v1/meals/offer/?student={student.id}&at=2026-11-23T15:00:00").status_code == 204
    # a student of another campus is invisible to this operator
    assert api_client.get(f"/api/v1/meals/offer/?student={world.students[5].id}").status_code == 404


def test_menu_write_is_idempotent_and_needs_an_editor(api_client, world, setup):
    body = {
        "campus": str(setup.campus.id),
        "session_kind": "lunch",
        "day": "2026-11-30",
        "entries": [
            {"set_meal": str(setup.set_meals["A"].id), "dishes": [str(setup.dishes["米饭"].id)]},
        ],
    }
    api_client.force_authenticate(world.user(Role.WINDOW_OPERATOR))
    assert api_client.post("/api/v1/meals/menus/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 403
    api_client.force_authenticate(world.user(Role.CANTEEN_MANAGER))
    assert api_client.post("/api/v1/meals/menus/", body, format="json").status_code == 400  # no key
    first = api_client.post("/api/v1/meals/menus/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api_client.post("/api/v1/meals/menus/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["entries"] == {"标准套餐A": {"price_fen": 600, "dishes": ["米饭"]}}
    assert Menu.objects.filter(day=date(2026, 11, 30)).count() == 1
    menu_id = first.json()["id"]
    published = api_client.post(f"/api/v1/meals/menus/{menu_id}/publish/", HTTP_IDEMPOTENCY_KEY="p1")
    assert published.json()["status"] == "published"
    assert published.json()["version"] == 1
    # a change after publishing without a reason is refused with a clear error
    changed = dict(body, entries=[{"set_meal": str(setup.set_meals["A"].id), "dishes": [str(setup.dishes["馒头"].id)]}])
    refused = api_client.post("/api/v1/meals/menus/", changed, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "meals_change_reason_required"


def test_forecast_and_nutrition_check(api_client, world, setup):
    api_client.force_authenticate(world.user(Role.SCHOOL_ADMIN))
    forecast = api_client.get(f"/api/v1/meals/campuses/{setup.campus.id}/forecast/?day=2026-11-23").json()
    assert {r["set_meal"]: r["portions"] for r in forecast["set_meals"]} == {"标准套餐A": 3}
    rice = next(r for r in forecast["ingredients"] if r["food_code"] == "SR20450")
    assert rice["quantity"] == "0.300"
    check = api_client.get(f"/api/v1/meals/campuses/{setup.campus.id}/nutrition-check/?day=2026-11-23").json()
    assert check["passed"] is False
    assert any(f["code"] == "salt_high" for f in check["flags"])


def test_staff_set_a_plan_and_a_guardian_reports_sick_leave(api_client, world, setup):
    student = world.students[0]  # the guardian account's child
    api_client.force_authenticate(world.user(Role.CANTEEN_MANAGER))
    body = {"diet": "halal", "choices": {"lunch": str(setup.set_meals["H"].id)}}
    response = api_client.post(
        f"/api/v1/meals/students/{student.id}/plan/", body, format="json", HTTP_IDEMPOTENCY_KEY="p"
    )
    assert response.status_code == 200
    assert response.json()["diet"] == "halal"
    assert response.json()["choices"]["lunch"]["set_meal_id"] == str(setup.set_meals["H"].id)
    offer = api_client.get(f"/api/v1/meals/offer/?student={student.id}&at=2026-11-23T12:10:00%2B08:00").json()
    assert offer["set_meal_name"] == "清真套餐"

    guardian = world.user(Role.GUARDIAN)
    api_client.force_authenticate(guardian)
    assert api_client.get(f"/api/v1/meals/students/{student.id}/plan/").json()["diet"] == "halal"
    # guardians may not change the plan, nor see other children
    assert (
        api_client.post(
            f"/api/v1/meals/students/{student.id}/plan/", {}, format="json", HTTP_IDEMPOTENCY_KEY="x"
        ).status_code
        == 403
    )
    assert api_client.get(f"/api/v1/meals/students/{world.students[1].id}/plan/").status_code == 404
    from django.utils import timezone

    today = timezone.localdate()
    leave = {"start": today.isoformat(), "end": today.isoformat(), "reason": "发烧"}
    created = api_client.post(
        f"/api/v1/meals/students/{student.id}/opt-outs/", leave, format="json", HTTP_IDEMPOTENCY_KEY="o1"
    )
    assert created.status_code == 201
    assert created.json()["reason"] == "发烧"
    past = dict(leave, start="2020-01-01")
    refused = api_client.post(
        f"/api/v1/meals/students/{student.id}/opt-outs/", past, format="json", HTTP_IDEMPOTENCY_KEY="o2"
    )
    assert refused.status_code == 400
    backwards = dict(leave, end="2020-01-01")
    assert (
        api_client.post(
            f"/api/v1/meals/students/{student.id}/opt-outs/", backwards, format="json", HTTP_IDEMPOTENCY_KEY="o3"
        ).status_code
        == 400
    )
