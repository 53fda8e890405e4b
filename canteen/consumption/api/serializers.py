from __future__ import annotations

from rest_framework import serializers

from ..models import MealRecord, Method, Terminal


class CheckoutRequestSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=Method.choices)
    student_id = serializers.UUIDField(required=False, help_text="face or manual: the identified student")
    qr_token = serializers.CharField(required=False, max_length=512, help_text="qr: the scanned credential")
    student_number = serializers.CharField(required=False, max_length=32, help_text="pin")
    pin = serializers.CharField(required=False, max_length=12, write_only=True, help_text="pin")
    window_id = serializers.UUIDField(required=False, help_text="window operators: which window")
    identified_at = serializers.DateTimeField(
        required=False, help_text="terminals: when the student stood at the window (offline sync)"
    )
    match_distance = serializers.FloatField(required=False, min_value=0, max_value=2)
    match_margin = serializers.FloatField(required=False, min_value=-2, max_value=2)
    served_offline = serializers.BooleanField(
        required=False, default=False, help_text="the terminal already served this meal while offline"
    )

    def validate(self, attrs: dict) -> dict:
        method = attrs["method"]
        if method in {Method.FACE, Method.MANUAL} and not attrs.get("student_id"):
            raise serializers.ValidationError({"student_id": "required for face and manual checkout"})
        if method == Method.QR and not attrs.get("qr_token"):
            raise serializers.ValidationError({"qr_token": "required for QR checkout"})
        if method == Method.PIN and not (attrs.get("student_number") and attrs.get("pin")):
            raise serializers.ValidationError({"pin": "student_number and pin are required"})
        return attrs


class VoidRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class StudentCardSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    student_number = serializers.CharField()
    class_name = serializers.CharField()
    allergens = serializers.ListField(child=serializers.CharField())
    diet_notes = serializers.CharField()


def student_card(student) -> dict:
    from canteen.meals.choices import Allergen

    labels = {code: str(label).split(" ")[0] for code, label in Allergen.choices}
    return {
        "id": str(student.pk),
        "name": student.name,
        "student_number": student.student_number,
        "class_name": student.school_class.name if student.school_class_id else "",
        "allergens": [labels.get(code, code) for code in (student.allergens or [])],
        "diet_notes": student.diet_notes,
    }


class MealRecordSerializer(serializers.ModelSerializer):
    price = serializers.SerializerMethodField()
    student_name = serializers.CharField(source="student.name", read_only=True)
    window_name = serializers.SerializerMethodField()

    class Meta:
        model = MealRecord
        fields = [
            "id",
            "student_id",
            "student_name",
            "campus_id",
            "window_id",
            "window_name",
            "terminal_id",
            "session_kind",
            "served_on",
            "served_at",
            "serving_no",
            "set_meal_id",
            "set_meal_name",
            "dishes",
            "price_fen",
            "price",
            "method",
            "match_distance",
            "match_margin",
            "idempotency_key",
            "posting_id",
            "charge_status",
            "balance_after_fen",
            "served_offline",
            "status",
            "voided_at",
            "void_reason",
            "created_at",
        ]
        read_only_fields = fields

    def get_price(self, obj: MealRecord) -> str:
        whole, part = divmod(obj.price_fen, 100)
        return f"{whole}.{part:02d}"

    def get_window_name(self, obj: MealRecord) -> str:
        return obj.window.name if obj.window_id else ""


class CheckoutResponseSerializer(serializers.Serializer):
    record = MealRecordSerializer()
    student = StudentCardSerializer()
    balance_after_fen = serializers.IntegerField(allow_null=True)
    replayed = serializers.BooleanField()


class TerminalSerializer(serializers.ModelSerializer):
    window_name = serializers.CharField(source="window.name", read_only=True)
    campus_name = serializers.CharField(source="campus.__str__", read_only=True)

    class Meta:
        model = Terminal
        fields = [
            "id",
            "code",
            "name",
            "window_id",
            "window_name",
            "campus_id",
            "campus_name",
            "offline_limit_fen",
            "offline_total_limit_fen",
            "is_active",
            "last_seen_at",
            "last_gallery_version",
        ]
        read_only_fields = fields
