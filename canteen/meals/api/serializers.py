from rest_framework import serializers

from ..choices import SessionKind


class EntrySerializer(serializers.Serializer):
    set_meal = serializers.UUIDField()
    dishes = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=20)


class MenuWriteSerializer(serializers.Serializer):
    campus = serializers.UUIDField()
    session_kind = serializers.ChoiceField(choices=SessionKind.choices)
    day = serializers.DateField()
    entries = EntrySerializer(many=True, max_length=12)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class DishViewSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    allergens = serializers.ListField(child=serializers.CharField())
    photo_url = serializers.CharField(allow_null=True)


class SetMealViewSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    price_fen = serializers.IntegerField(source="price.fen")
    price = serializers.CharField(source="price.yuan")
    diet = serializers.CharField()
    is_default = serializers.BooleanField()
    dishes = DishViewSerializer(many=True)
    allergens = serializers.ListField(child=serializers.CharField())
    nutrition = serializers.DictField(allow_null=True)


class SessionMenuSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    kind = serializers.CharField()
    serve_start = serializers.TimeField()
    serve_end = serializers.TimeField()
    allows_second_meal = serializers.BooleanField()
    menu_id = serializers.UUIDField()
    version = serializers.IntegerField()
    status = serializers.CharField()
    set_meals = SetMealViewSerializer(many=True)


class MealOfferSerializer(serializers.Serializer):
    session_kind = serializers.CharField()
    session_id = serializers.UUIDField()
    set_meal_id = serializers.UUIDField()
    set_meal_name = serializers.CharField()
    price_fen = serializers.IntegerField(source="price.fen")
    dishes = serializers.ListField(child=serializers.CharField())
    served_on = serializers.DateField()
    allergens = serializers.ListField(child=serializers.CharField())
    allergy_conflicts = serializers.ListField(child=serializers.CharField())
    allows_second_meal = serializers.BooleanField()


class MealPlanWriteSerializer(serializers.Serializer):
    diet = serializers.ChoiceField(choices=["standard", "halal", "vegetarian", "low_allergen"], required=False)
    diet_notes = serializers.CharField(required=False, allow_blank=True, max_length=200)
    # session kind → set meal id, or null for "does not eat this session"
    choices = serializers.DictField(child=serializers.UUIDField(allow_null=True), required=False)


class OptOutWriteSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    session_kind = serializers.ChoiceField(choices=["", *SessionKind.values], required=False, default="")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
