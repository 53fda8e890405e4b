"""Registering cameras: addresses validated, credentials encrypted at rest and never shown,
each camera visible only inside its own scope."""

from __future__ import annotations

import pytest
from django.test import override_settings

from canteen.core.models import AuditEvent
from canteen.kitchen import crypto, selectors, services
from canteen.kitchen.choices import Area
from canteen.kitchen.errors import CameraUrlInvalid, CredentialsUnreadable, DuplicateRecord
from canteen.kitchen.models import Camera, CameraHealth
from canteen.kitchen.streaming.supervisor import camera_input_url

pytestmark = pytest.mark.django_db


def _create(world, **kw):
    args = {
        "canteen": world.canteens[0],
        "name": "烹饪间",
        "area": Area.COOKING,
        "stream_url": "rtsp://10.0.0.5:554/h264",
    }
    return services.camera_create(actor=world.user("canteen_manager"), **{**args, **kw})


def test_credentials_in_the_address_are_moved_out_and_encrypted(world):
    camera = _create(world, stream_url="rtsp://admin:p%40ss%3Aword@10.0.0.5:554/Streaming/Channels/101")
    camera.refresh_from_db()
    assert camera.stream_url == "rtsp://10.0.0.5:554/Streaming/Channels/101"
    assert "p@ss" not in camera.credentials_enc
    assert "admin" not in camera.credentials_enc
    assert crypto.decrypt_credentials(str(camera.id), camera.credentials_enc) == ("admin", "p@ss:word")
    # Only the supervisor puts them back, URL-encoded, for ffmpeg.
    assert camera_input_url(camera) == "rtsp://admin:p%40ss%3Aword@10.0.0.5:554/Streaming/Channels/101"
    audit = AuditEvent.objects.get(action="kitchen.camera_created")
    assert "p@ss" not in str(audit.after)
    assert audit.after["credentials"] is True
    assert CameraHealth.objects.get(camera=camera).status == "offline"


def test_ciphertext_is_bound_to_its_camera_and_to_the_key(world):
    first = _create(world, username="admin", password="secret")
    second = _create(world, name="切配间", area=Area.WASHING_CUTTING)
    with pytest.raises(CredentialsUnreadable):
        crypto.decrypt_credentials(str(second.id), first.credentials_enc)
    with override_settings(CANTEEN_CAMERA_KEY="another-key"), pytest.raises(CredentialsUnreadable):
        crypto.decrypt_credentials(str(first.id), first.credentials_enc)


@pytest.mark.parametrize("url", ["", "ftp://10.0.0.1/x", "rtsp:///nohost", "javascript:alert(1)"])
def test_bad_addresses_are_refused(world, url):
    with pytest.raises(CameraUrlInvalid):
        _create(world, stream_url=url)
    assert not Camera.objects.exists()


def test_same_name_twice_in_one_canteen_is_refused(world):
    _create(world)
    with pytest.raises(DuplicateRecord):
        _create(world)


def test_cameras_are_seen_only_within_scope(world):
    mine = _create(world)
    other = _create(world, canteen=world.canteens[-1], name="别的区")
    for role, expected in [
        ("canteen_manager", {mine.id}),
        ("school_admin", {mine.id}),
        ("district_regulator", {mine.id}),
        ("city_regulator", {mine.id, other.id}),
        ("guardian", set()),
        ("supplier_user", set()),
    ]:
        seen = {v.camera.id for v in selectors.cameras_visible(actor=world.user(role))}
        assert seen == expected, role


def test_a_disabled_camera_stops_being_relayed(world):
    camera = _create(world)
    services.camera_update(actor=world.user("canteen_manager"), camera=camera, enabled=False)
    views = selectors.cameras_visible(actor=world.user("canteen_manager"))
    assert [v.status for v in views] == ["disabled"]
