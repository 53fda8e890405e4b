from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import empty

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
    expires_at = serializers.DateTimeField(
        required=False,
        help_text="terminals: the server's time after which the terminal has given this request up; "
        "a checkout arriving later is refused (checkout_expired) unless served_offline",
    )
    served_offline = serializers.BooleanField(
        required=False, default=False, help_text="the terminal already served this meal while offline"
    )

    def validate(self, attrs: dict) -> dict:
        return _credential_given(attrs)


def _credential_given(attrs: dict) -> dict:
    method = attrs["method"]
    if method in {Method.FACE, Method.MANUAL} and not attrs.get("student_id"):
        raise serializers.ValidationError({"student_id": "required for face and manual checkout"})
    if method == Method.QR and not attrs.get("qr_token"):
        raise serializers.ValidationError({"qr_token": "required for QR checkout"})
    if method == Method.PIN and not (attrs.get("student_number") and attrs.get("pin")):
        raise serializers.ValidationError({"pin": "student_number and pin are required"})
    return attrs


def checkout_request(data: Any) -> dict:
    """The checkout body, validated as CheckoutRequestSerializer validates it. A well-formed
    body is checked with the serializer's own declared fields, without building a serializer:
    DRF deep-copies every field for each serializer instance, a tenth of a checkout's CPU. Any
    body the quick check does not pass goes through the serializer, which words the errors."""
    if isinstance(data, Mapping) and "method" in data:
        attrs: dict[str, Any] = {}
        try:
            for name, field in CheckoutRequestSerializer._declared_fields.items():
                if name in data:
                    attrs[name] = field.run_validation(data[name])
                elif field.default is not empty:
                    attrs[name] = field.default
            return _credential_given(attrs)
        except (serializers.ValidationError, DjangoValidationError):
            pass
    serializer = CheckoutRequestSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


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
    from canteen.meals.choices import ALLERGEN_SHORT as labels

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


def record_body(record: MealRecord) -> dict:
    """MealRecordSerializer's output, written out: checkout answers with it on every meal, and
    the serializer costs more than the rest of the answer (a test keeps the two equal)."""
    whole, part = divmod(record.price_fen, 100)
    return {
        "id": str(record.pk),
        "student_id": str(record.student_id),
        "student_name": record.student.name,
        "campus_id": str(record.campus_id),
        "window_id": str(record.window_id) if record.window_id else None,
        "window_name": record.window.name if record.window_id else "",
        "terminal_id": str(record.terminal_id) if record.terminal_id else None,
        "session_kind": record.session_kind,
        "served_on": record.served_on.isoformat(),
        "served_at": _iso(record.served_at),
        "serving_no": record.serving_no,
        "set_meal_id": record.set_meal_id,
        "set_meal_name": record.set_meal_name,
        "dishes": record.dishes,
        "price_fen": record.price_fen,
        "price": f"{whole}.{part:02d}",
        "method": record.method,
        "match_distance": record.match_distance,
        "match_margin": record.match_margin,
        "idempotency_key": record.idempotency_key,
        "posting_id": record.posting_id,
        "charge_status": record.charge_status,
        "balance_after_fen": record.balance_after_fen,
        "served_offline": record.served_offline,
        "status": record.status,
        "voided_at": _iso(record.voided_at),
        "void_reason": record.void_reason,
        "created_at": _iso(record.created_at),
    }


_DATETIME = serializers.DateTimeField()


def _iso(value) -> str | None:
    """DRF's DateTimeField output: local time, ISO 8601, with the offset."""
    if value is None:
        return None
    return _DATETIME.to_representation(value)


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
