"""API for people in and out: roster import, life events, guardian binding, staff accounts.
Each endpoint calls one service; domain errors become the project's error body."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes, throttle_classes
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from .. import binding, life, roster, staff
from ..models import Campus, District, GuardianLink, RosterImport, School, SchoolClass, Student
from .serializers import StudentSerializer


class RosterImportSerializer(serializers.ModelSerializer):
    school = serializers.CharField(source="school.code", default=None, read_only=True)
    district = serializers.CharField(source="district.code", read_only=True)
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = RosterImport
        fields = [
            "id", "filename", "sha256", "size_bytes", "status", "school", "district", "actor", "rows_total",
            "rows_done", "error_count", "warning_count", "counts", "report", "created_at", "applied_at",
        ]  # fmt: skip


class RosterUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    school = serializers.UUIDField(required=False)
    district = serializers.UUIDField(required=False)


@extend_schema(request={"multipart/form-data": RosterUploadSerializer}, responses=RosterImportSerializer)
@api_view(["POST"])
@parser_classes([MultiPartParser])
def roster_import_create(request):
    """Upload a roster (.xlsx/.csv) for a school or the district: returns the preview, every
    row's errors and warnings. Nothing of the roster is written until it is confirmed."""
    data = RosterUploadSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    school = (
        get_object_or_404(School.objects.visible_to(request.user), pk=data.validated_data["school"])
        if "school" in data.validated_data
        else None
    )
    district = (
        get_object_or_404(District.objects.visible_to(request.user), pk=data.validated_data["district"])
        if "district" in data.validated_data
        else None
    )
    upload = data.validated_data["file"]
    if upload.size > roster.max_bytes():
        raise roster.RosterFileError(
            "文件过大", "The file is too large", details={"size_bytes": upload.size, "max_bytes": roster.max_bytes()}
        )
    record = roster.roster_preview(
        actor=request.user, data=upload.read(), filename=upload.name, school=school, district=district
    )
    return Response(RosterImportSerializer(record).data, status=status.HTTP_201_CREATED)


@extend_schema(responses=RosterImportSerializer)
@api_view(["GET"])
def roster_import_detail(request, pk):
    record = get_object_or_404(RosterImport.objects.visible_to(request.user).defer("content"), pk=pk)
    return Response(RosterImportSerializer(record).data)


class ConfirmSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False)


@extend_schema(request=ConfirmSerializer, responses=RosterImportSerializer)
@api_view(["POST"])
def roster_import_confirm(request, pk):
    record = get_object_or_404(RosterImport.objects.visible_to(request.user), pk=pk)
    body = ConfirmSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    record = roster.roster_confirm(actor=request.user, roster_import=record, dry_run=body.validated_data["dry_run"])
    return Response(RosterImportSerializer(record).data)


class LifeEventSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    school_class = serializers.UUIDField(required=False)
    campus = serializers.UUIDField(required=False)


@extend_schema(request=LifeEventSerializer, responses=StudentSerializer)
@api_view(["POST"])
def student_life_event(request, pk, action):
    """One life event: class-change, transfer, suspend, reinstate, leave."""
    student = get_object_or_404(Student.objects.visible_to(request.user).select_related("campus__school"), pk=pk)
    body = LifeEventSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    v = body.validated_data
    user = request.user
    if action == "class-change":
        klass = get_object_or_404(SchoolClass, pk=v.get("school_class"), campus=student.campus)
        student = life.student_class_change(actor=user, student=student, school_class=klass)
    elif action == "transfer":
        campus = get_object_or_404(Campus.objects.visible_to(user), pk=v.get("campus"))
        klass = get_object_or_404(SchoolClass, pk=v.get("school_class"), campus=campus)
        student = life.student_transfer_campus(actor=user, student=student, campus=campus, school_class=klass)
    elif action == "suspend":
        student = life.student_suspend(actor=user, student=student, reason=v["reason"])
    elif action == "reinstate":
        student = life.student_reinstate(actor=user, student=student)
    elif action == "leave":
        student = life.student_leave(actor=user, student=student, reason=v["reason"])
    else:
        return Response(status=status.HTTP_404_NOT_FOUND)
    return Response(StudentSerializer(student).data)


@extend_schema(request=None, responses={200: dict})
@api_view(["POST"])
def school_promote(request, pk):
    school = get_object_or_404(School.objects.visible_to(request.user), pk=pk)
    return Response(life.school_promote(actor=request.user, school=school))


class BindingStartSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=20)
    mobile = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=40)
    relation = serializers.CharField(max_length=12, default="other")


class BindingConfirmSerializer(serializers.Serializer):
    challenge = serializers.UUIDField()
    code = serializers.CharField(max_length=10)


class BindingThrottle(AnonRateThrottle):
    rate = "30/hour"


@extend_schema(request=BindingStartSerializer, responses={201: dict})
@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([BindingThrottle])
@parser_classes([JSONParser])
def binding_start(request):
    """A guardian starts binding with the school's code and their mobile; a one-time code is
    sent (event org.verification_code). Limited per mobile, per code and per client address."""
    body = BindingStartSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    v = body.validated_data
    challenge = binding.binding_start(
        code=v["code"], mobile=v["mobile"], guardian_name=v["name"], relation=v["relation"]
    )
    return Response(
        {"challenge": str(challenge.pk), "expires_at": challenge.expires_at}, status=status.HTTP_201_CREATED
    )


@extend_schema(request=BindingConfirmSerializer, responses={200: dict})
@api_view(["POST"])
@permission_classes([AllowAny])
@parser_classes([JSONParser])
def binding_confirm(request):
    """The one-time code: binds the guardian to the pupil and returns an API token for the
    guardian's account."""
    from canteen.accounts.services import token_issue

    body = BindingConfirmSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    user = request.user if request.user.is_authenticated else None
    link, account = binding.binding_confirm(
        challenge_id=body.validated_data["challenge"], otp=body.validated_data["code"], user=user
    )
    # An expiring token of the accounts app, listed and revocable by the guardian like any other.
    _token, key = token_issue(user=account, name="guardian binding")
    return Response({"student_id": str(link.student_id), "guardian_id": str(link.guardian_id), "token": key})


@extend_schema(request=None, responses={204: None})
@api_view(["DELETE"])
def guardian_link_delete(request, pk):
    link = get_object_or_404(
        GuardianLink.objects.visible_to(request.user).select_related("student__campus__school", "guardian"), pk=pk
    )
    binding.guardian_unlink(actor=request.user, link=link)
    return Response(status=status.HTTP_204_NO_CONTENT)


class StaffSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    display_name = serializers.CharField(max_length=60, required=False, default="")
    role = serializers.CharField(max_length=24)
    school = serializers.UUIDField(required=False)
    campus = serializers.UUIDField(required=False)
    phone = serializers.CharField(max_length=20, required=False, default="")
    password = serializers.CharField(max_length=128, required=False, default="", write_only=True)


@extend_schema(request=StaffSerializer, responses={201: dict})
@api_view(["POST"])
def staff_create(request):
    body = StaffSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    v = body.validated_data
    school = get_object_or_404(School.objects.visible_to(request.user), pk=v["school"]) if v.get("school") else None
    campus = get_object_or_404(Campus.objects.visible_to(request.user), pk=v["campus"]) if v.get("campus") else None
    account, password = staff.staff_create(
        actor=request.user, username=v["username"], display_name=v["display_name"], role=v["role"], school=school,
        campus=campus, phone=v["phone"], password=v["password"],
    )  # fmt: skip
    body = {"id": account.pk, "username": account.username, "role": account.role}
    if not v["password"]:
        body["password"] = password  # generated: shown once
    return Response(body, status=status.HTTP_201_CREATED)


class ActiveSerializer(serializers.Serializer):
    active = serializers.BooleanField()


@extend_schema(request=ActiveSerializer, responses={200: dict})
@api_view(["POST"])
def staff_active(request, pk):
    account = get_object_or_404(staff.staff_visible(actor=request.user), pk=pk)
    body = ActiveSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    account = staff.staff_set_active(actor=request.user, user=account, active=body.validated_data["active"])
    return Response({"id": account.pk, "username": account.username, "is_active": account.is_active})
