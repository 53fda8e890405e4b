from rest_framework import serializers

from ..choices import DeviceKind


class TrackPointSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    at = serializers.DateTimeField()
    lat = serializers.DecimalField(max_digits=9, decimal_places=6)
    lon = serializers.DecimalField(max_digits=9, decimal_places=6)
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1, required=False)
    speed_kmh = serializers.DecimalField(max_digits=5, decimal_places=1, required=False)


class TrackPointsSerializer(serializers.Serializer):
    """For the schema; the service validates the points itself (ranges, zones, duplicates)."""

    trip = serializers.CharField(max_length=40)
    delivery = serializers.UUIDField(required=False)
    points = TrackPointSerializer(many=True)


class TrackPointsResultSerializer(serializers.Serializer):
    track = serializers.UUIDField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    points = serializers.IntegerField()
    breaks = serializers.IntegerField()


class DeviceRegisterSerializer(serializers.Serializer):
    supplier = serializers.UUIDField()
    name = serializers.CharField(max_length=60)
    kind = serializers.ChoiceField(choices=DeviceKind.choices, default=DeviceKind.VEHICLE)


class DeviceCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    token = serializers.CharField()
    name = serializers.CharField()


class RecallSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class DishBatchesQuery(serializers.Serializer):
    """The query of /trace/dish-batches/, validated before any lookup (a campus that is not a
    UUID was a 500)."""

    campus = serializers.UUIDField()
    day = serializers.DateField()
    meal = serializers.CharField(max_length=20)
    dish = serializers.UUIDField(required=False, allow_null=True)


class Gs1KeySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("gln", "GLN"), ("gtin", "GTIN")])
    number = serializers.CharField(max_length=14)
    company_prefix_length = serializers.IntegerField(min_value=6, max_value=12, default=7)
    subject = serializers.CharField(max_length=200, required=False)
    item = serializers.UUIDField(required=False, help_text="with producer: the producer's GTIN of this item")
    producer = serializers.CharField(max_length=120, required=False)
    district = serializers.UUIDField(required=False)
