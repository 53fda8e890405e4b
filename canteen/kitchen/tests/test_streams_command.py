"""`canteen streams --demo` end to end: it starts the simulated cameras of the demo, relays
them to live HLS and recordings, and stops every ffmpeg it started when it ends."""

from __future__ import annotations

import subprocess

import pytest
from django.core.management import call_command

from canteen.kitchen import services
from canteen.kitchen.choices import Area
from canteen.kitchen.models import CameraHealth
from canteen.kitchen.streaming import ffmpeg as ff

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _ffmpeg_children() -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(__import__("os").getpid()), "ffmpeg"], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def test_streams_demo_relays_simulated_cameras_and_cleans_up(world, udp_url, tmp_path, settings):
    settings.CANTEEN_KITCHEN_DIR = str(tmp_path / "kitchen")
    camera = services.camera_create(
        actor=world.user("canteen_manager"), canteen=world.canteens[0], name="烹饪间", area=Area.COOKING,
        stream_url=udp_url(),
    )  # fmt: skip
    before = _ffmpeg_children()
    call_command("streams", demo=True, no_analyse=True, seconds=7)
    live = tmp_path / "kitchen" / "streams" / str(camera.id) / "live"
    assert (live / "index.m3u8").exists()
    assert ff.parse_playlist((live / "index.m3u8").read_text())
    health = CameraHealth.objects.get(camera=camera)
    assert health.frames > 0
    assert health.status == "offline"  # the supervisor marked it on the way out
    assert _ffmpeg_children() <= before  # neither the source nor the relay is left running
