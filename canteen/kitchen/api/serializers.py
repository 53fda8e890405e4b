from __future__ import annotations

from rest_framework import serializers

from canteen.core.localtime import local_iso

from ..choices import Meal
from ..models import Alarm, Camera, FoodSample


class CameraSerializer(serializers.ModelSerializer):
    """Never the credentials: only whether there are some."""

    canteen_name = serializers.CharField(source="canteen.name", read_only=True)
    has_credentials = serializers.BooleanField(read_only=True)
    status = serializers.SerializerMethodField()
    bitrate_kbps = serializers.SerializerMethodField()
    last_frame_at = serializers.SerializerMethodField()
    restarts = serializers.SerializerMethodField()

    class Meta:
        model = Camera
        fields = ["id", "canteen", "canteen_name", "name", "area", "stream_url", "codec", "enabled",
                  "has_credentials", "status", "bitrate_kbps", "last_frame_at", "restarts"]  # fmt: skip

    def _health(self, camera):
        return getattr(camera, "health", None)

    def get_status(self, camera) -> str:
        health = self._health(camera)
        if not camera.enabled:
            return "disabled"
        return health.effective_status() if health else "offline"

    def get_bitrate_kbps(self, camera) -> int:
        health = self._health(camera)
        return health.bitrate_kbps if health else 0

    def get_last_frame_at(self, camera) -> str | None:
        health = self._health(camera)
        return local_iso(health.last_frame_at) if health else None

    def get_restarts(self, camera) -> int:
        health = self._health(camera)
        return health.restarts if health else 0


class AlarmSerializer(serializers.ModelSerializer):
    camera_name = serializers.CharField(source="camera.name", read_only=True)

    class Meta:
        model = Alarm
        fields = ["id", "camera", "camera_name", "kind", "at", "status", "score", "detail", "snapshot", "clip"]


class AlarmMoveSerializer(serializers.Serializer):
    to = serializers.CharField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class FoodSampleInSerializer(serializers.Serializer):
    canteen = serializers.UUIDField()
    day = serializers.DateField()
    meal = serializers.ChoiceField(choices=Meal.choices)
    dish_name = serializers.CharField(max_length=80)
    weight_g = serializers.IntegerField(min_value=1, max_value=100_000)
    sampler_name = serializers.CharField(max_length=40)
    sampled_at = serializers.DateTimeField(required=False)
    storage = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


class FoodSampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = FoodSample
        fields = ["id", "canteen", "day", "meal", "dish_name", "weight_g", "sampler_name", "sampled_at", "keep_until", "storage"]  # fmt: skip
