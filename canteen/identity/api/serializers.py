"""Identity API shapes. No serializer here has a field for a template or a photo: they cannot be
returned by accident."""

from rest_framework import serializers


class ConsentSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    guardian = serializers.CharField(source="guardian.name", read_only=True)
    given_at = serializers.DateTimeField(read_only=True)
    text_version = serializers.CharField(read_only=True)
    storage_statement = serializers.CharField(read_only=True)
    keep_display_photo = serializers.BooleanField(read_only=True)
    withdrawn_at = serializers.DateTimeField(read_only=True)


class StudentIdentitySerializer(serializers.Serializer):
    student_id = serializers.UUIDField(source="student.pk")
    name = serializers.CharField(source="student.name")
    student_number = serializers.CharField(source="student.student_number")
    school_class = serializers.CharField(source="student.school_class.name")
    status = serializers.CharField(source="status_code")
    consent = ConsentSerializer(allow_null=True)
    template_count = serializers.IntegerField()
    has_qr = serializers.BooleanField()
    has_pin = serializers.BooleanField()
    pin_locked = serializers.BooleanField()


class ConsentGiveSerializer(serializers.Serializer):
    text_version = serializers.CharField(required=False)
    keep_display_photo = serializers.BooleanField(default=False)
    agree = serializers.BooleanField()

    def validate_agree(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError("须明确同意 / Explicit agreement is required")
        return value


class ConsentWithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class EnrolSerializer(serializers.Serializer):
    photos = serializers.ListField(child=serializers.FileField(), min_length=1, max_length=5)
    source = serializers.ChoiceField(choices=["guardian_upload", "staff_capture"])
    keep_photo = serializers.BooleanField(default=False)


class EnrolResultSerializer(serializers.Serializer):
    templates = serializers.IntegerField()
    gallery_version = serializers.IntegerField()


class PinSetSerializer(serializers.Serializer):
    pin = serializers.CharField(min_length=4, max_length=8, write_only=True)


class QrTokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class VerifyQrSerializer(serializers.Serializer):
    campus_id = serializers.UUIDField()
    token = serializers.CharField()


class VerifyPinSerializer(serializers.Serializer):
    campus_id = serializers.UUIDField()
    student_number = serializers.CharField()
    pin = serializers.CharField(write_only=True)


class VerifiedStudentSerializer(serializers.Serializer):
    student_id = serializers.UUIDField(source="pk")
    name = serializers.CharField()
    student_number = serializers.CharField()
    school_class = serializers.CharField(source="school_class.name")


class GalleryVersionSerializer(serializers.Serializer):
    campus_id = serializers.UUIDField()
    version = serializers.IntegerField()


class ConsentStatisticsSerializer(serializers.Serializer):
    campus_id = serializers.UUIDField()
    campus = serializers.CharField()
    students = serializers.IntegerField()
    consented = serializers.IntegerField()
    enrolled = serializers.IntegerField()
    withdrawn = serializers.IntegerField()


class ConsentTextSerializer(serializers.Serializer):
    version = serializers.CharField()
    text_zh = serializers.CharField()
    text_en = serializers.CharField()
    sha256 = serializers.CharField()
