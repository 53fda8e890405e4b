"""The analyser on real streams: motion outside working hours raises an alarm with a JPEG
snapshot and a clip cut from the recordings, published for supervision; a camera that goes dark
is reported; a district's plug-in detector is loaded and run."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from canteen.core.models import OutboxEvent
from canteen.kitchen import services
from canteen.kitchen.analysis.analyser import Analyser
from canteen.kitchen.analysis.detectors import AfterHoursMotion, CameraCovered, CameraMoved, Sample
from canteen.kitchen.choices import AlarmKind, Area
from canteen.kitchen.models import Alarm, KitchenSchedule
from canteen.kitchen.streaming.ffmpeg import probe_duration

from .conftest import run_until

pytestmark = [pytest.mark.django_db]


def _camera(world, url, name="后厨"):
    return services.camera_create(
        actor=world.user("canteen_manager"), canteen=world.canteens[0], name=name, area=Area.COOKING, stream_url=url
    )


@pytest.mark.slow
def test_after_hours_motion_raises_an_alarm_with_snapshot_and_clip(world, udp_url, cameras_sim, supervisor):
    url = udp_url()
    camera = _camera(world, url)
    # No working day at all: any motion is after hours.
    KitchenSchedule.objects.create(canteen=camera.canteen, work_days=[], meals=["lunch"])
    cameras_sim.add(url, label="NIGHT", pattern="testsrc2")
    cameras_sim.tick()
    analyser = Analyser(supervisor.config, sample_every=0.5, dark_after=30, clip_before=2, clip_after=1)

    def step():
        supervisor.tick()
        analyser.tick()

    run_until(step, lambda: Alarm.objects.filter(camera=camera, kind=AlarmKind.AFTER_HOURS_MOTION).exists(), timeout=20)
    alarm = Alarm.objects.get(camera=camera, kind=AlarmKind.AFTER_HOURS_MOTION)
    snapshot = supervisor.config.root / alarm.snapshot
    assert snapshot.suffix == ".jpg"
    assert snapshot.read_bytes()[:2] == b"\xff\xd8"
    assert alarm.detail["changed_fraction"] >= 0.01
    event = OutboxEvent.objects.get(topic="kitchen.alarm_raised")
    assert event.payload["alarm_id"] == str(alarm.id)
    assert event.payload["camera_id"] == str(camera.id)
    assert event.payload["campus_id"] == str(world.campuses[0].id)
    assert event.payload["district_id"] == str(world.districts[0].id)

    run_until(step, lambda: Alarm.objects.get(pk=alarm.pk).clip != "", timeout=15)
    clip = supervisor.config.root / Alarm.objects.get(pk=alarm.pk).clip
    assert clip.suffix == ".mp4"
    assert (probe_duration(clip) or 0) > 0.5
    # The cooldown keeps one alarm per spell, not one per sample.
    assert Alarm.objects.filter(camera=camera, kind=AlarmKind.AFTER_HOURS_MOTION).count() == 1


@pytest.mark.slow
def test_motion_inside_working_hours_is_normal_kitchen_work(world, udp_url, cameras_sim, supervisor):
    url = udp_url()
    camera = _camera(world, url)
    KitchenSchedule.objects.create(
        canteen=camera.canteen,
        work_start=datetime.min.time(),
        work_end=datetime.max.time(),
        work_days=list(range(7)),
        meals=[],
    )
    cameras_sim.add(url, label="DAY", pattern="testsrc2")
    cameras_sim.tick()
    analyser = Analyser(supervisor.config, sample_every=0.5)
    samples = []

    def step():
        supervisor.tick()
        analyser.tick()
        state = analyser.cameras.get(str(camera.id))
        if state and state.last_segment and state.last_segment not in samples:
            samples.append(state.last_segment)

    run_until(step, lambda: len(samples) >= 3, timeout=20)
    assert not Alarm.objects.filter(camera=camera).exists()


def test_a_camera_with_no_new_segments_is_reported_dark_once(world, stream_config):
    camera = _camera(world, "rtsp://10.0.0.9/stream1")
    analyser = Analyser(stream_config, dark_after=0.0)
    analyser.tick()
    analyser.tick()
    alarms = Alarm.objects.filter(camera=camera)
    assert [a.kind for a in alarms] == [AlarmKind.DARK]
    assert alarms[0].snapshot == ""


def _sample(gray, *, working=False):
    return Sample("cam", datetime.now(UTC), gray.astype(np.uint8), np.dstack([gray] * 3).astype(np.uint8), working)


def _scene(seed=1):
    rng = np.random.default_rng(seed)
    frame = np.full((90, 160), 120, np.uint8)
    for _ in range(12):  # a "kitchen" of fixed shapes
        x, y = rng.integers(0, 140), rng.integers(0, 70)
        frame[y : y + 20, x : x + 20] = rng.integers(0, 255)
    return frame


def test_covered_camera_needs_two_dark_samples_in_a_row_in_working_hours():
    detector, state = CameraCovered(), {}
    dark = np.full((90, 160), 5)
    assert detector.analyse(_sample(_scene(), working=True), state) == []
    assert detector.analyse(_sample(dark, working=True), state) == []
    findings = detector.analyse(_sample(dark, working=True), state)
    assert [f.kind for f in findings] == [AlarmKind.COVERED]
    assert detector.analyse(_sample(dark, working=True), state) == []  # once per spell
    night = CameraCovered(), {}
    assert [night[0].analyse(_sample(dark), night[1]) for _ in range(3)] == [[], [], []]  # lights off


def test_moved_camera_is_a_lasting_change_of_scene():
    detector, state = CameraMoved(samples=2), {}
    scene, other = _scene(1), _scene(7)
    for _ in range(3):
        assert detector.analyse(_sample(scene, working=True), state) == []
    person = scene.copy()
    person[30:60, 70:90] = 250  # someone walks through: the background is unchanged
    assert detector.analyse(_sample(person, working=True), state) == []
    assert detector.analyse(_sample(other), state) == []  # at night nothing is compared
    assert detector.analyse(_sample(other, working=True), state) == []
    assert [f.kind for f in detector.analyse(_sample(other, working=True), state)] == [AlarmKind.MOVED]


def test_motion_detector_ignores_noise_and_working_hours():
    detector, state = AfterHoursMotion(), {}
    base = _scene()
    noisy = np.clip(base.astype(int) + np.random.default_rng(3).integers(-8, 9, base.shape), 0, 255)
    assert detector.analyse(_sample(base), state) == []
    assert detector.analyse(_sample(noisy), state) == []
    clock = base.copy()
    clock[2:12, 5:80] = 255  # the camera's OSD clock ticking in the top band
    assert detector.analyse(_sample(clock), state) == []
    moved = base.copy()
    moved[30:70, 10:60] = 255
    assert detector.analyse(_sample(moved, working=True), state) == []
    assert detector.analyse(_sample(base), state)[0].kind == AlarmKind.AFTER_HOURS_MOTION
