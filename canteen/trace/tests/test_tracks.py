"""A supplier's truck posts its route and temperatures; resends and disorder are harmless,
bad readings are refused, and a warm stretch on a chilled load is flagged as a cold-chain break."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from canteen.core.models import OutboxEvent
from canteen.trace import services
from canteen.trace.errors import TrackOwnershipConflict, TrackPointsInvalid
from canteen.trace.models import ColdChainBreak, TrackPoint, TransportTrack

from .conftest import route_points

pytestmark = pytest.mark.django_db


def test_journey_track_is_chilled_and_has_one_break(journey):
    track = TransportTrack.objects.get(trip_ref="T1")
    assert track.profile == "chilled"  # pork on board: the strictest load decides
    assert track.max_c == Decimal("4.0")
    assert track.point_count == 14
    (brk,) = ColdChainBreak.objects.filter(track=track)
    assert brk.worst_c == Decimal("8.4")
    assert brk.minutes == 25
    assert OutboxEvent.objects.filter(topic="trace.cold_chain_break").count() == 1


def test_resending_points_adds_nothing(journey):
    start = timezone.now() - timedelta(hours=1)
    points = route_points(100, start, temps=[2.0, 2.1, 2.2])
    first = services.track_points_record(device=journey.device, trip_ref="T2", points=points)
    again = services.track_points_record(device=journey.device, trip_ref="T2", points=points)
    assert first["accepted"] == 3
    assert again["accepted"] == 0
    assert again["duplicates"] == 3
    assert TrackPoint.objects.filter(track__trip_ref="T2").count() == 3


def test_points_out_of_order_are_put_in_time_order(journey):
    start = timezone.now() - timedelta(hours=1)
    points = route_points(200, start, temps=[1.0, 9.0, 9.5, 9.9, 9.0, 1.0])
    services.track_points_record(device=journey.device, trip_ref="T3", points=list(reversed(points[3:])))
    result = services.track_points_record(device=journey.device, trip_ref="T3", points=points[:3])
    track = TransportTrack.objects.get(trip_ref="T3")
    assert result["points"] == 6
    assert track.started_at < track.ended_at
    # no delivery attached: ambient profile, no limits, so no break even though it ran warm
    assert track.break_count == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lon": "east"}, "lon"),
        ({"temperature_c": 75}, "temperature_c"),
        ({"seq": 0}, "seq"),
        ({"seq": True}, "seq"),
        ({"at": "2026-01-01T08:00:00"}, "zone"),
        ({"at": (timezone.now() + timedelta(days=1)).isoformat()}, "future"),
        ({"speed_kmh": -3}, "speed"),
    ],
)
def test_bad_points_are_refused_whole(journey, change, field):
    points = route_points(300, timezone.now() - timedelta(minutes=30), temps=[2.0, 2.0])
    points[1].update(change)
    with pytest.raises(TrackPointsInvalid) as caught:
        services.track_points_record(device=journey.device, trip_ref="T4", points=points)
    assert "1" in caught.value.details["points"], field
    assert not TrackPoint.objects.filter(seq__in=[300, 301]).exists()


def test_a_device_cannot_attach_its_trip_to_another_suppliers_delivery(journey, world):
    from canteen.org.choices import Role
    from canteen.org.tests.factories import make_user
    from canteen.procurement.tests.factories import make_supplier

    other = make_supplier(world, user=make_user("supplier-b", Role.SUPPLIER_USER))
    device, _token = services.device_register(
        actor=world.user(Role.DISTRICT_REGULATOR), supplier=other, name="另一辆车"
    )
    with pytest.raises(TrackOwnershipConflict):
        services.track_points_record(
            device=device,
            trip_ref="X",
            delivery_id=journey.delivery.pk,
            points=route_points(1, timezone.now() - timedelta(minutes=20), temps=[2.0]),
        )


def test_points_api_needs_a_live_device_token(journey, api_client):
    body = {"trip": "T9", "points": route_points(900, timezone.now() - timedelta(minutes=20), temps=[3.0, 3.1])}
    assert api_client.post("/api/v1/trace/points/", body, format="json").status_code in (401, 403)
    response = api_client.post(
        "/api/v1/trace/points/", body, format="json", HTTP_AUTHORIZATION="Device not-a-real-token"
    )
    assert response.status_code == 401
    ok = api_client.post("/api/v1/trace/points/", body, format="json", HTTP_AUTHORIZATION=f"Device {journey.token}")
    assert ok.status_code == 200
    assert ok.json()["accepted"] == 2
    services.device_revoke(actor=None, device=journey.device)
    again = api_client.post("/api/v1/trace/points/", body, format="json", HTTP_AUTHORIZATION=f"Device {journey.token}")
    assert again.status_code == 401
