"""Subsidy programmes API (issue 22): the district sets up its programmes and who is in them;
finance staff read what was granted, spent and returned per programme and campus."""

from __future__ import annotations

from datetime import date

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from canteen.core.errors import Forbidden, ValidationFailed
from canteen.core.money import Money
from canteen.org.choices import Role
from canteen.org.models import Student

from .. import subsidies
from ..choices import FundingSource, ProgrammeKind
from ..models import SubsidyProgramme

PROGRAMME_ROLES = {Role.DISTRICT_REGULATOR}
ELIGIBILITY_ROLES = {Role.DISTRICT_REGULATOR, Role.SCHOOL_ADMIN}
REPORT_ROLES = {Role.CITY_REGULATOR, Role.DISTRICT_REGULATOR, Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER}


def _require(request: Request, roles: set[str]) -> None:
    if not (request.user.is_superuser or request.user.role in roles):
        raise Forbidden()


class ProgrammeSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    funding_source_label = serializers.CharField(source="get_funding_source_display", read_only=True)

    class Meta:
        model = SubsidyProgramme
        fields = [
            "id", "code", "name", "kind", "kind_label", "funding_source", "funding_source_label",
            "per_day_fen", "start", "end", "active",
        ]  # fmt: skip
        read_only_fields = ["id", "active"]


class ProgrammeIn(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=80)
    kind = serializers.ChoiceField(choices=ProgrammeKind.choices)
    funding_source = serializers.ChoiceField(choices=FundingSource.choices)
    per_day_fen = serializers.IntegerField(min_value=1, max_value=100_000)
    start = serializers.DateField()
    end = serializers.DateField(required=False, allow_null=True)


class EligibilityIn(serializers.Serializer):
    student = serializers.UUIDField()
    start = serializers.DateField()
    end = serializers.DateField(required=False, allow_null=True)


class ProgrammeRowOut(serializers.Serializer):
    campus_id = serializers.UUIDField()
    programme = serializers.CharField()
    funding_source = serializers.CharField()
    granted_fen = serializers.IntegerField()
    returned_fen = serializers.IntegerField()


class SubsidyReportOut(serializers.Serializer):
    rows = ProgrammeRowOut(many=True)
    spent_on_meals_fen = serializers.DictField(child=serializers.IntegerField())
    unspent_fen = serializers.DictField(child=serializers.IntegerField())


@extend_schema(methods=["GET"], responses=ProgrammeSerializer(many=True))
@extend_schema(methods=["POST"], request=ProgrammeIn, responses={201: ProgrammeSerializer})
@api_view(["GET", "POST"])
def programmes(request: Request) -> Response:
    if request.method == "GET":
        _require(request, REPORT_ROLES)
        qs = SubsidyProgramme.objects.visible_to(request.user).distinct().order_by("code")
        return Response(ProgrammeSerializer(qs, many=True).data)
    _require(request, PROGRAMME_ROLES)
    data = ProgrammeIn(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    district = request.user.district
    if district is None:
        raise Forbidden()
    if SubsidyProgramme.objects.filter(district=district, code=v["code"]).exists():
        raise ValidationFailed("项目代码已存在", "The programme code exists", details={"code": v["code"]})
    programme = subsidies.programme_create(
        actor=request.user,
        district=district,
        code=v["code"],
        name=v["name"],
        kind=v["kind"],
        funding_source=v["funding_source"],
        per_day=Money(v["per_day_fen"]),
        start=v["start"],
        end=v.get("end"),
    )
    return Response(ProgrammeSerializer(programme).data, status=status.HTTP_201_CREATED)


@extend_schema(request=EligibilityIn, responses={201: None})
@api_view(["POST"])
def eligibility(request: Request, programme_id) -> Response:
    _require(request, ELIGIBILITY_ROLES)
    programme = get_object_or_404(SubsidyProgramme.objects.visible_to(request.user).distinct(), pk=programme_id)
    data = EligibilityIn(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    student = get_object_or_404(Student.objects.visible_to(request.user), pk=v["student"])
    row = subsidies.eligibility_add(
        actor=request.user, programme=programme, student=student, start=v["start"], end=v.get("end")
    )
    return Response({"id": str(row.pk)}, status=status.HTTP_201_CREATED)


@extend_schema(
    parameters=[OpenApiParameter("start", date, required=True), OpenApiParameter("end", date, required=True)],
    responses=SubsidyReportOut,
)
@api_view(["GET"])
def subsidy_report(request: Request) -> Response:
    """Granted and returned per campus and programme (with its funding source), and per campus
    what allowances paid for meals and what was left at the end of the period."""
    _require(request, REPORT_ROLES)
    try:
        start = date.fromisoformat(request.query_params.get("start", ""))
        end = date.fromisoformat(request.query_params.get("end", ""))
    except ValueError as exc:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", "Dates are YYYY-MM-DD") from exc
    if end < start or (end - start).days > 400:
        raise ValidationFailed("日期范围无效（至多 400 天）", "Invalid range (at most 400 days)")
    report = subsidies.subsidy_report(actor=request.user, start=start, end=end)
    rows = [
        {
            "campus_id": r.campus_id,
            "programme": r.programme.code if r.programme else "",
            "funding_source": r.programme.funding_source if r.programme else "",
            "granted_fen": r.granted_fen,
            "returned_fen": r.returned_fen,
        }
        for r in report.rows
    ]
    return Response(
        {
            "rows": ProgrammeRowOut(rows, many=True).data,
            "spent_on_meals_fen": {str(k): v for k, v in report.spent_on_meals_fen.items()},
            "unspent_fen": {str(k): v for k, v in report.unspent_fen.items()},
        }
    )
