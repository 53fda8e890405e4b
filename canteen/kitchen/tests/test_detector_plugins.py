"""A district plugs its own detector in through settings; a broken plug-in is skipped."""

from __future__ import annotations

import pytest

from canteen.kitchen import services
from canteen.kitchen.analysis import plugins
from canteen.kitchen.analysis.analyser import Analyser
from canteen.kitchen.analysis.detectors import Finding, Sample
from canteen.kitchen.analysis.onnx import DetectorUnavailable, OnnxClassifier
from canteen.kitchen.choices import Area
from canteen.kitchen.models import Alarm


class BrightApronDetector:
    """A tiny stand-in for a district model: 'no white apron' when the picture has little white."""

    name = "apron"

    def __init__(self, min_white: float = 0.05) -> None:
        self.min_white = min_white

    def analyse(self, sample: Sample, state: dict) -> list[Finding]:
        state["seen"] = state.get("seen", 0) + 1
        white = float((sample.gray > 200).mean())
        return [Finding("detector:no_apron", score=1 - white)] if white < self.min_white else []


class Broken:
    name = "broken"

    def __init__(self) -> None:
        raise RuntimeError("model file missing")


def test_detectors_named_in_settings_are_loaded_after_the_defaults(settings):
    settings.CANTEEN_KITCHEN_DETECTORS = [f"{__name__}:BrightApronDetector", f"{__name__}:Broken", "no.such:Thing"]
    names = [d.name for d in plugins.all_detectors()]
    assert names == ["after_hours_motion", "covered", "moved", "apron"]


def test_environment_list_overrides_settings(monkeypatch, settings):
    settings.CANTEEN_KITCHEN_DETECTORS = []
    monkeypatch.setenv("CANTEEN_KITCHEN_DETECTORS", f"{__name__}:BrightApronDetector")
    assert [d.name for d in plugins.plugin_detectors()] == ["apron"]


def test_onnx_adapter_says_clearly_what_is_missing(tmp_path):
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        with pytest.raises(DetectorUnavailable, match="onnxruntime"):
            OnnxClassifier(str(tmp_path / "hat.onnx"), ["ok", "no_hat"], ["no_hat"])
    else:
        with pytest.raises(DetectorUnavailable, match="not found"):
            OnnxClassifier(str(tmp_path / "hat.onnx"), ["ok", "no_hat"], ["no_hat"])


def _grey_segment(stream_config, camera):
    """A real one-second segment in the camera's live folder, grey: no white apron anywhere."""
    import subprocess

    live = stream_config.live_dir(camera.id)
    live.mkdir(parents=True)
    subprocess.run(  # noqa: S603
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:s=160x90:r=5",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "mpegts",
            str(live / "seg_000001.ts"),
        ],  # fmt: skip
        check=True,
    )
    (live / "index.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nseg_000001.ts\n")


def _camera(world):
    return services.camera_create(
        actor=world.user("canteen_manager"),
        canteen=world.canteens[0],
        name="分餐",
        area=Area.PORTIONING,
        stream_url="rtsp://10.1.1.2/live",
    )


@pytest.mark.django_db
def test_a_plugin_finding_becomes_an_alarm_with_snapshot(world, stream_config):
    camera = _camera(world)
    _grey_segment(stream_config, camera)
    analyser = Analyser(stream_config, detectors=[BrightApronDetector()], sample_every=0)
    analyser.tick()
    alarm = Alarm.objects.get(camera=camera)
    assert alarm.kind == "detector:no_apron"
    assert alarm.score > 0.9
    assert (stream_config.root / alarm.snapshot).exists()
    assert analyser.cameras[str(camera.id)].detector_state["apron"]["seen"] == 1


@pytest.mark.django_db
def test_a_crashing_detector_does_not_stop_the_others(world, stream_config):
    class Crashing:
        name = "crash"

        def analyse(self, sample, state):
            raise ValueError("bug in a district model")

    camera = _camera(world)
    _grey_segment(stream_config, camera)
    Analyser(stream_config, detectors=[Crashing(), BrightApronDetector()], sample_every=0).tick()
    assert list(Alarm.objects.filter(camera=camera).values_list("kind", flat=True)) == ["detector:no_apron"]
