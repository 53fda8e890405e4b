"""Input validation for the procurement API (shapes only; the rules live in services)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ..choices import CheckResult, MealKind


class OrderLineIn(serializers.Serializer):
    item = serializers.UUIDField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)


class OrderIn(serializers.Serializer):
    campus = serializers.UUIDField(required=False, help_text="defaults to the caller's campus")
    supplier = serializers.UUIDField()
    delivery_day = serializers.DateField()
    meal_kind = serializers.ChoiceField(choices=MealKind.choices)
    lines = OrderLineIn(many=True, allow_empty=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    submit = serializers.BooleanField(required=False, default=False)


class TransitionIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=["submit", "approve", "return", "send", "confirm", "cancel", "close"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class QuickTestIn(serializers.Serializer):
    test = serializers.CharField(max_length=40)
    value = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    unit = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    passed = serializers.BooleanField(default=True)


class DeliveryLineIn(serializers.Serializer):
    order_line = serializers.UUIDField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    batch_number = serializers.CharField(max_length=60)
    producer = serializers.CharField(max_length=120)
    production_date = serializers.DateField()
    shelf_life_days = serializers.IntegerField(required=False, min_value=1, max_value=3650, allow_null=True)
    producer_licence = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    origin = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    quick_tests = QuickTestIn(many=True, required=False, default=list)


class DeliveryIn(serializers.Serializer):
    lines = DeliveryLineIn(many=True, allow_empty=False)
    vehicle_plate = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    driver_name = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    driver_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")


class DecisionIn(serializers.Serializer):
    line = serializers.UUIDField()
    result = serializers.ChoiceField(choices=CheckResult.choices)
    accepted_quantity = serializers.DecimalField(max_digits=12, decimal_places=3, required=False, allow_null=True)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1, required=False, allow_null=True)
    quick_tests = QuickTestIn(many=True, required=False, allow_null=True, default=None)


class AcceptIn(serializers.Serializer):
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1, required=False, allow_null=True)
    decisions = DecisionIn(many=True, allow_empty=False)


class IssueIn(serializers.Serializer):
    item = serializers.UUIDField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    day = serializers.DateField()
    meal_kind = serializers.ChoiceField(choices=MealKind.choices)
    dish_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    dish_name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")


class MealIssueLineIn(serializers.Serializer):
    item = serializers.UUIDField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    dish_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    dish_name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")


class MealIssueIn(serializers.Serializer):
    day = serializers.DateField()
    meal_kind = serializers.ChoiceField(choices=MealKind.choices)
    lines = MealIssueLineIn(many=True, allow_empty=False)


class UploadIn(serializers.Serializer):
    file = serializers.FileField()


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
