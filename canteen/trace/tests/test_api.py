"""The trace API as a supplier and a canteen use it: register a truck, read a meal's batches."""

import pytest

from canteen.org.choices import Role
from canteen.trace.models import TransportDevice

pytestmark = pytest.mark.django_db


def test_a_supplier_registers_its_own_truck_and_gets_the_token_once(journey, api_client):
    api_client.force_authenticate(journey.world.user(Role.SUPPLIER_USER))
    response = api_client.post(
        "/api/v1/trace/devices/", {"supplier": str(journey.supplier.pk), "name": "冷藏车 2 号"}, format="json"
    )
    assert response.status_code == 201
    token = response.json()["token"]
    device = TransportDevice.objects.get(pk=response.json()["id"])
    assert token not in (device.token_hash, device.token_hint)  # only a hash is kept
    # a canteen account may not register devices
    api_client.force_authenticate(journey.world.user(Role.STOREKEEPER))
    denied = api_client.post(
        "/api/v1/trace/devices/", {"supplier": str(journey.supplier.pk), "name": "x"}, format="json"
    )
    assert denied.status_code == 403


def test_a_meals_batches_by_api(journey, api_client):
    api_client.force_authenticate(journey.world.user(Role.CANTEEN_MANAGER))
    campus = journey.world.campuses[0]
    response = api_client.get(f"/api/v1/trace/dish-batches/?campus={campus.pk}&day={journey.day}&meal=lunch")
    assert response.status_code == 200
    codes = {b["trace_code"] for b in response.json()["batches"]}
    assert codes == {journey.cabbage_code.code, journey.pork_code.code}
    bad = api_client.get(f"/api/v1/trace/dish-batches/?campus={campus.pk}&day=someday&meal=lunch")
    assert bad.status_code == 400
