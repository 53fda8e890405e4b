from rest_framework import serializers

from ..choices import EntryKind
from ..models import CalendarEntry


class CalendarEntrySerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = CalendarEntry
        fields = ["id", "district", "school", "kind", "kind_label", "name", "start", "end", "note"]
        read_only_fields = ["id", "district", "kind_label"]


class CalendarEntryIn(serializers.Serializer):
    school = serializers.UUIDField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=EntryKind.choices)
    name = serializers.CharField(max_length=80)
    start = serializers.DateField()
    end = serializers.DateField()
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CalendarEntryUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    start = serializers.DateField()
    end = serializers.DateField()
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SchoolDayOut(serializers.Serializer):
    day = serializers.DateField()
    school_day = serializers.BooleanField()
    reason = serializers.CharField()
