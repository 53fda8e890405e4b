from rest_framework import serializers

from ..models import Account, Posting


class WalletSerializer(serializers.ModelSerializer):
    student_name = serializers.CharField(source="student.name", read_only=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "student",
            "student_name",
            "status",
            "balance_fen",
            "floor_fen",
            "daily_limit_fen",
            "low_balance_alert_fen",
            "spent_on",
            "spent_today_fen",
        ]


class PostingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Posting
        fields = [
            "id",
            "kind",
            "idempotency_key",
            "on",
            "amount_fen",
            "memo",
            "reverses",
            "student",
            "campus",
            "channel",
            "reference",
            "created_at",
        ]


class StatementLineSerializer(serializers.Serializer):
    posting = PostingSerializer()
    amount_fen = serializers.IntegerField()
    balance_fen = serializers.IntegerField()


class MealChargeIn(serializers.Serializer):
    student = serializers.UUIDField()
    campus = serializers.UUIDField(required=False)
    amount_fen = serializers.IntegerField(min_value=1, max_value=100_000)
    meal_ref = serializers.CharField(max_length=120, required=False, default="")
    memo = serializers.CharField(max_length=200, required=False, default="")


class TopUpIn(serializers.Serializer):
    student = serializers.UUIDField()
    amount_fen = serializers.IntegerField(min_value=1, max_value=1_000_000)
    channel = serializers.ChoiceField(choices=["cash", "bank"])
    reference = serializers.CharField(max_length=120, required=False, default="")


class ReverseIn(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class TransferIn(serializers.Serializer):
    from_student = serializers.UUIDField()
    to_student = serializers.UUIDField()
    amount_fen = serializers.IntegerField(min_value=1, max_value=100_000)


class OnlineTopUpIn(serializers.Serializer):
    student = serializers.UUIDField()
    amount_fen = serializers.IntegerField(min_value=1, max_value=100_000)


class OnlineTopUpOut(serializers.Serializer):
    out_trade_no = serializers.CharField()
    amount_fen = serializers.IntegerField()
    pay_url = serializers.CharField()


class SettingsIn(serializers.Serializer):
    daily_limit_fen = serializers.IntegerField(min_value=0, max_value=1_000_000, allow_null=True)
    low_balance_alert_fen = serializers.IntegerField(min_value=0, max_value=1_000_000, allow_null=True)


class RefundIn(serializers.Serializer):
    student = serializers.UUIDField()
    amount_fen = serializers.IntegerField(min_value=1, max_value=1_000_000)
    reason = serializers.CharField(max_length=200)


class ClosureIn(serializers.Serializer):
    student = serializers.UUIDField()
    reason = serializers.CharField(max_length=200, required=False, default="")


class ReportRowOut(serializers.Serializer):
    campus_id = serializers.UUIDField(source="campus.pk")
    campus = serializers.CharField()
    income_fen = serializers.IntegerField()
    top_ups_fen = serializers.IntegerField()
    subsidy_fen = serializers.IntegerField()
    food_cost_fen = serializers.IntegerField()
    other_cost_fen = serializers.IntegerField()
    meals = serializers.IntegerField()
    cost_per_meal_fen = serializers.IntegerField(allow_null=True)
