"""Query parameters are validated before they reach the database."""

import pytest

from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    ["campus=not-a-uuid&day=2026-12-01&meal=lunch", "day=2026-12-01&meal=lunch", "campus={c}&day=tomorrow&meal=lunch"],
)
def test_dish_batches_with_a_bad_query_is_a_400(world, api_client, query):
    api_client.force_authenticate(world.user(Role.DISTRICT_REGULATOR))
    response = api_client.get("/api/v1/trace/dish-batches/?" + query.format(c=world.campuses[0].pk))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"


def test_dish_batches_with_a_good_query_answers(world, api_client):
    api_client.force_authenticate(world.user(Role.DISTRICT_REGULATOR))
    response = api_client.get(f"/api/v1/trace/dish-batches/?campus={world.campuses[0].pk}&day=2026-12-01&meal=lunch")
    assert response.status_code == 200
    assert response.json() == {"batches": []}
