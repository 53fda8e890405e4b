"""The web side reads only: stream files behind a scope check, a VOD playlist of recordings,
alarm handling, the record forms and the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from canteen.kitchen import services
from canteen.kitchen.choices import Area
from canteen.kitchen.models import Alarm, FoodSample, MorningCheck, RecordingSegment

pytestmark = pytest.mark.django_db


@pytest.fixture
def kdir(tmp_path, settings):
    settings.CANTEEN_KITCHEN_DIR = str(tmp_path / "kitchen")
    return tmp_path / "kitchen"


@pytest.fixture
def camera(world):
    return services.camera_create(
        actor=world.user("canteen_manager"),
        canteen=world.canteens[0],
        name="烹饪间",
        area=Area.COOKING,
        stream_url="rtsp://admin:hunter2@10.0.0.5/live",
    )


def _client(client, world, role):
    client.force_login(world.user(role))
    return client


def test_live_files_only_for_those_who_may_see_the_camera(client, world, camera, kdir):
    live = kdir / "streams" / str(camera.id) / "live"
    live.mkdir(parents=True)
    (live / "index.m3u8").write_text("#EXTM3U\n")
    (live / "seg_000001.ts").write_bytes(b"\x47" * 188)
    url = reverse("kitchen:live-file", args=[camera.id, "index.m3u8"])
    response = _client(client, world, "district_regulator").get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    assert response["Cache-Control"] == "no-cache"
    assert client.get(reverse("kitchen:live-file", args=[camera.id, "seg_000001.ts"])).status_code == 200
    assert client.get(reverse("kitchen:live-file", args=[camera.id, "ffmpeg.log"])).status_code == 404
    assert client.get(reverse("kitchen:live-file", args=[camera.id, "..%2Fffmpeg.log"])).status_code == 404
    client.force_login(world.user("guardian"))
    assert client.get(url).status_code == 404


def test_playback_lists_recordings_as_a_vod_playlist(client, world, camera, kdir):
    rec = kdir / "streams" / str(camera.id) / "rec"
    rec.mkdir(parents=True)
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    for i in range(3):
        at = start + timedelta(seconds=60 * i)
        name = f"{at:%Y%m%dT%H%M%SZ}.ts"
        (rec / name).write_bytes(b"\x47" * 188)
        RecordingSegment.objects.create(
            camera=camera, start_at=at, duration_s=60.0, file=f"streams/{camera.id}/rec/{name}", size_bytes=188
        )
    _client(client, world, "canteen_manager")
    at = timezone.localtime(start + timedelta(seconds=30)).replace(tzinfo=None).isoformat()
    body = client.get(
        reverse("kitchen:recordings-playlist", args=[camera.id]), {"at": at, "minutes": 2}
    ).content.decode()
    assert body.startswith("#EXTM3U")
    assert "#EXT-X-ENDLIST" in body
    assert body.count("#EXTINF:60.000") == 3  # the one that began before `at` plays from its start
    first = reverse("kitchen:recording-file", args=[camera.id, "20261123T020000Z.ts"])
    assert first in body
    assert client.get(first).status_code == 200
    page = client.get(reverse("kitchen:playback", args=[camera.id]), {"at": at}).content.decode()
    assert 'data-testid="playback"' in page
    assert "%2B08%3A00" in page  # the offset survives the query string ("+" would read as a space)


def test_alarm_moves_follow_the_state_machine(client, world, camera):
    alarm = services.alarm_raise(camera=camera, kind="covered", at=timezone.now())
    _client(client, world, "canteen_manager")
    move = reverse("kitchen:alarm-move", args=[alarm.id])
    client.post(move, {"to": "acknowledged"})
    client.post(move, {"to": "resolved", "note": "镜头已清洁"})
    response = client.post(move, {"to": "open"}, follow=True)
    assert "不允许" in response.content.decode() or "not allowed" in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.status == "resolved"
    assert [h.to_status for h in alarm.history.all()] == ["open", "acknowledged", "resolved"]
    listing = client.get(reverse("kitchen:alarms")).content.decode()
    assert "covered" in listing


def test_the_api_never_returns_credentials(api_client, world, camera):
    api_client.force_authenticate(world.user("school_admin"))
    body = api_client.get("/api/v1/kitchen/cameras/").json()
    row = body["results"][0]
    assert row["has_credentials"] is True
    assert "hunter2" not in str(body)
    assert "credentials_enc" not in row
    api_client.force_authenticate(world.user("guardian"))
    assert api_client.get("/api/v1/kitchen/cameras/").json()["count"] == 0


def test_api_sample_is_idempotent_and_refuses_small_samples(api_client, world):
    api_client.force_authenticate(world.user("canteen_manager"))
    payload = {"canteen": str(world.canteens[0].id), "day": "2026-11-23", "meal": "lunch", "dish_name": "米饭",
               "weight_g": 130, "sampler_name": "李"}  # fmt: skip
    first = api_client.post("/api/v1/kitchen/samples/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api_client.post("/api/v1/kitchen/samples/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert FoodSample.objects.count() == 1
    small = api_client.post("/api/v1/kitchen/samples/", {**payload, "dish_name": "汤", "weight_g": 80}, format="json",
                            HTTP_IDEMPOTENCY_KEY="k2")  # fmt: skip
    assert small.status_code == 400
    assert small.json()["error"]["code"] == "kitchen.sample_too_small"
    other = {**payload, "canteen": str(world.canteens[-1].id), "dish_name": "x"}
    assert (
        api_client.post("/api/v1/kitchen/samples/", other, format="json", HTTP_IDEMPOTENCY_KEY="k3").status_code == 404
    )


def test_api_alarm_move(api_client, world, camera):
    alarm = services.alarm_raise(camera=camera, kind="moved", at=timezone.now())
    api_client.force_authenticate(world.user("district_regulator"))
    ok = api_client.post(f"/api/v1/kitchen/alarms/{alarm.id}/move/", {"to": "dismissed"}, format="json")
    assert ok.json()["status"] == "dismissed"
    bad = api_client.post(f"/api/v1/kitchen/alarms/{alarm.id}/move/", {"to": "open"}, format="json")
    assert bad.status_code == 409
    assert Alarm.objects.get().status == "dismissed"


def test_morning_check_form_on_a_phone(client, world):
    staff = services.staff_add(actor=world.user("canteen_manager"), canteen=world.canteens[0], name="周师傅")
    _client(client, world, "canteen_manager")
    url = reverse("kitchen:record-check") + f"?canteen={world.canteens[0].id}&day=2026-11-23"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"staff": staff.id, "temperature_c": "37.8", "symptoms": ["cough"], "day": "2026-11-23"}
    )
    assert response.status_code == 302
    check = MorningCheck.objects.get()
    assert not check.fit
    assert check.symptoms == ["cough"]
    today = client.get(response["Location"]).content.decode()
    assert "周师傅" in today
    assert "离岗" in today


def test_sample_form_shows_the_rule_when_too_small(client, world):
    _client(client, world, "canteen_manager")
    url = reverse("kitchen:record-sample") + f"?canteen={world.canteens[0].id}"
    response = client.post(url, {"meal": "lunch", "dish_name": "青菜", "weight_g": 100, "sampler_name": "李"})
    assert response.status_code == 200
    assert "125" in response.content.decode()
    assert not FoodSample.objects.exists()


def test_window_operators_cannot_write_records_but_regulators_can_read(client, world):
    client.force_login(world.user("window_operator"))
    assert client.get(reverse("kitchen:record-sample")).status_code == 404
    client.force_login(world.user("district_regulator"))
    assert client.get(reverse("kitchen:records")).status_code == 200


@pytest.mark.parametrize("minutes", ["abc", "99999999999999999999999", "0"])
def test_playback_with_a_bad_minutes_parameter_is_a_400(client, world, camera, kdir, minutes):
    _client(client, world, "canteen_manager")
    response = client.get(reverse("kitchen:playback", args=[camera.id]), {"minutes": minutes})
    assert response.status_code == 400
