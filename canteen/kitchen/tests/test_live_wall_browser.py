"""A real Chromium plays a live camera on the live wall through hls.js, from a real ffmpeg relay."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connections
from django.utils import timezone

from canteen.kitchen import services
from canteen.kitchen.choices import Area
from canteen.kitchen.models import RecordingSegment
from canteen.kitchen.streaming.supervisor import StreamSupervisor

from .conftest import run_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def running_supervisor(stream_config, settings):
    settings.CANTEEN_KITCHEN_DIR = str(stream_config.root)  # the web reads where the relay writes
    supervisor = StreamSupervisor(stream_config)
    stop = threading.Event()

    def run():  # as `canteen streams` would, beside the web process
        try:
            supervisor.run(stop=stop, interval=0.3)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    yield supervisor, thread
    stop.set()
    if thread.is_alive():
        thread.join(timeout=10)
    else:
        supervisor.shutdown()


def test_live_wall_plays_a_camera_and_shows_its_health(
    world, udp_url, cameras_sim, running_supervisor, login, page, live_server
):
    supervisor, thread = running_supervisor
    manager = world.user("canteen_manager")
    url = udp_url()
    camera = services.camera_create(
        actor=manager, canteen=world.canteens[0], name="切配间", area=Area.WASHING_CUTTING, stream_url=url
    )
    # A camera of another district that this manager must not see.
    services.camera_create(
        actor=manager, canteen=world.canteens[-1], name="别人的", area=Area.COOKING, stream_url="rtsp://10.9.9.9/x"
    )
    cameras_sim.add(url, label="WALL")
    cameras_sim.tick()
    thread.start()
    playlist = supervisor.config.live_dir(camera.id) / "index.m3u8"
    run_until(lambda: None, lambda: playlist.exists() and playlist.read_text().count("#EXTINF") >= 2, timeout=15)

    login(manager.username, "pw-" + manager.username)
    page.goto(f"{live_server.url}/kitchen/live/")
    assert page.locator("[data-testid=tile]").count() == 1
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 2 && v.currentTime > 0.5 }",
        timeout=20000,
    )
    first = page.evaluate("document.querySelector('video').currentTime")
    page.wait_for_timeout(1500)
    later = page.evaluate("document.querySelector('video').currentTime")
    if os.environ.get("KITCHEN_SCREENSHOT"):
        page.screenshot(path=os.environ["KITCHEN_SCREENSHOT"])
    assert later > first, "the live view must keep playing"
    page.reload()
    page.wait_for_selector("[data-testid=health]")
    badge = page.locator("[data-testid=health]").first
    assert badge.get_attribute("data-status") == "online"
    assert badge.inner_text().startswith("在线")  # zh-CN browser: Chinese first
    page.goto(f"{live_server.url}/kitchen/live/?status=offline")
    assert page.locator("[data-testid=tile]").count() == 0

    # Playback by time: the recordings the relay wrote meanwhile, as a VOD playlist.
    run_until(lambda: None, lambda: RecordingSegment.objects.filter(camera=camera).count() >= 2, timeout=15)
    first = RecordingSegment.objects.filter(camera=camera).order_by("start_at").first()
    at = timezone.localtime(first.start_at).strftime("%Y-%m-%dT%H:%M:%S")
    page.goto(f"{live_server.url}/kitchen/cameras/{camera.id}/playback/?at={at}&minutes=5")
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=playback]'); return v && v.readyState >= 2 }",
        timeout=15000,
    )
    page.evaluate("document.querySelector('[data-testid=playback]').play()")
    page.wait_for_function("() => document.querySelector('[data-testid=playback]').currentTime > 0.5", timeout=10000)
