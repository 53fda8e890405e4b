from __future__ import annotations

from rest_framework import serializers

from ..choices import CaseSource, FeedbackKind, ItemResult, Severity
from ..models import Case, CaseEvidence, CaseStep, Feedback, Inspection, InspectionItem


class CaseStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseStep
        fields = ["id", "at", "actor_label", "action", "from_status", "to_status", "note", "data"]


class CaseEvidenceSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvidence
        fields = ["id", "original_name", "content_type", "size", "sha256", "is_image", "url", "step"]

    def get_url(self, obj: CaseEvidence) -> str:
        return obj.file.url


class CaseSerializer(serializers.ModelSerializer):
    district_name = serializers.CharField(source="district.name", read_only=True)
    school_name = serializers.CharField(source="school.name", read_only=True, default=None, allow_null=True)
    campus_name = serializers.CharField(source="campus.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Case
        fields = [
            "id", "number", "title", "description", "source", "source_ref", "severity", "status", "flag",
            "district", "district_name", "school", "school_name", "campus", "campus_name", "deadline",
            "assigned_at", "responded_at", "closed_at", "responded_late", "return_count", "escalated_at", "created_at",
        ]  # fmt: skip


class CaseDetailSerializer(CaseSerializer):
    steps = CaseStepSerializer(many=True, read_only=True)
    evidence = CaseEvidenceSerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "steps", "evidence"]


class CaseOpenSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    district = serializers.UUIDField()
    school = serializers.UUIDField(required=False, allow_null=True)
    campus = serializers.UUIDField(required=False, allow_null=True)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    source = serializers.ChoiceField(choices=CaseSource.choices, default=CaseSource.MANUAL)


class CaseAssignSerializer(serializers.Serializer):
    school = serializers.UUIDField(required=False, allow_null=True)
    campus = serializers.UUIDField(required=False, allow_null=True)
    deadline = serializers.DateTimeField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CaseRespondSerializer(serializers.Serializer):
    note = serializers.CharField()
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list)


class CaseReviewSerializer(serializers.Serializer):
    accept = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="")
    deadline = serializers.DateTimeField(required=False, allow_null=True)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class InspectionItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = InspectionItem
        fields = ["code", "text_zh", "text_en", "result", "note", "case"]


class InspectionSerializer(serializers.ModelSerializer):
    campus_name = serializers.CharField(source="campus.__str__", read_only=True)
    inspectors = serializers.SerializerMethodField()
    items = InspectionItemSerializer(many=True, read_only=True)

    class Meta:
        model = Inspection
        fields = [
            "id", "kind", "status", "district", "campus", "campus_name", "planned_on", "inspectors",
            "draw_batch", "draw_seed", "completed_at", "summary", "items",
        ]  # fmt: skip

    def get_inspectors(self, obj: Inspection) -> list[str]:
        return [u.username for u in obj.inspectors.all()]


class InspectionPlanSerializer(serializers.Serializer):
    campus = serializers.UUIDField()
    planned_on = serializers.DateField()
    inspectors = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)


class InspectionDrawSerializer(serializers.Serializer):
    district = serializers.UUIDField()
    campuses = serializers.IntegerField(min_value=1, max_value=200)
    inspectors_per_inspection = serializers.IntegerField(min_value=1, max_value=10, default=2)
    planned_on = serializers.DateField()
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)


class InspectionResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    result = serializers.ChoiceField(choices=ItemResult.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class InspectionRecordSerializer(serializers.Serializer):
    results = InspectionResultSerializer(many=True)
    summary = serializers.CharField(required=False, allow_blank=True, default="")


class FeedbackSerializer(serializers.ModelSerializer):
    canteen_name = serializers.CharField(source="canteen.name", read_only=True)
    case_number = serializers.CharField(source="case.number", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Feedback
        fields = [
            "id", "follow_code", "canteen", "canteen_name", "campus", "school", "district", "kind", "rating",
            "text", "contact", "status", "answer", "answered_at", "case", "case_number", "created_at",
        ]  # fmt: skip


class FeedbackSubmitSerializer(serializers.Serializer):
    canteen = serializers.CharField(max_length=28)
    kind = serializers.ChoiceField(choices=FeedbackKind.choices)
    text = serializers.CharField(max_length=1000)
    rating = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    contact = serializers.CharField(required=False, allow_blank=True, max_length=40, default="")


class FeedbackAnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=2000)
