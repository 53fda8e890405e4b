"""The demo: cameras on simulated local sources, a week of records with exactly one gap."""

from __future__ import annotations

import random
from datetime import date

import pytest

from canteen.core.models import OutboxEvent
from canteen.kitchen import demo
from canteen.kitchen.models import Camera, FoodSample, MissingRecordAlert, MorningCheck
from canteen.kitchen.streaming.supervisor import is_local_udp
from canteen.org.demo import DemoContext

pytestmark = pytest.mark.django_db


def test_demo_seed_gives_cameras_and_a_week_with_one_missing_sample(world):
    ctx = DemoContext(
        rng=random.Random(7), today=date(2026, 11, 23), districts=world.districts, campuses=world.campuses
    )
    demo.seed(ctx)
    cameras = Camera.objects.all()
    assert cameras.count() == 6 + 3 + 3
    assert all(is_local_udp(c.stream_url) for c in cameras)
    assert len({c.stream_url for c in cameras}) == cameras.count()  # one simulated source each
    alert = MissingRecordAlert.objects.get()
    assert alert.meal == "lunch"
    assert not FoodSample.objects.filter(canteen=alert.canteen, day=alert.day, meal="lunch").exists()
    assert OutboxEvent.objects.filter(topic="kitchen.record_missing").count() == 1
    assert MorningCheck.objects.filter(fit=False).count() == 3  # one person sent home per canteen
    demo.seed(ctx)  # seeding twice adds nothing
    assert Camera.objects.count() == 12
