"""School calendar API: the district edits its calendar, a school admin its own entries; anyone
in scope asks which days are school days at a campus."""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from canteen.core.errors import Forbidden, ValidationFailed
from canteen.org.models import Campus, District, School

from .. import selectors, services
from .serializers import CalendarEntryIn, CalendarEntrySerializer, CalendarEntryUpdateIn, SchoolDayOut

MAX_RANGE_DAYS = 400


def _actor_district(request: Request, school: School | None) -> District:
    if school is not None:
        return school.district
    if request.user.district_id:
        return request.user.district
    raise Forbidden("无权修改该校历", "You may not edit this calendar")


@extend_schema(methods=["GET"], responses=CalendarEntrySerializer(many=True))
@extend_schema(methods=["POST"], request=CalendarEntryIn, responses={201: CalendarEntrySerializer})
@api_view(["GET", "POST"])
def entries(request: Request) -> Response:
    if request.method == "GET":
        qs = selectors.entries_visible_to(request.user).order_by("start", "kind")[:1000]
        return Response(CalendarEntrySerializer(qs, many=True).data)
    data = CalendarEntryIn(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    school = get_object_or_404(School.objects.visible_to(request.user), pk=v["school"]) if v.get("school") else None
    entry = services.calendar_entry_create(
        actor=request.user,
        district=_actor_district(request, school),
        school=school,
        kind=v["kind"],
        name=v["name"],
        start=v["start"],
        end=v["end"],
        note=v["note"],
    )
    return Response(CalendarEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["PUT"], request=CalendarEntryUpdateIn, responses=CalendarEntrySerializer)
@extend_schema(methods=["DELETE"], responses={204: None})
@api_view(["PUT", "DELETE"])
def entry(request: Request, pk) -> Response:
    found = get_object_or_404(selectors.entries_visible_to(request.user), pk=pk)
    if request.method == "DELETE":
        services.calendar_entry_delete(actor=request.user, entry=found)
        return Response(status=status.HTTP_204_NO_CONTENT)
    data = CalendarEntryUpdateIn(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    found = services.calendar_entry_update(
        actor=request.user, entry=found, name=v["name"], start=v["start"], end=v["end"], note=v["note"]
    )
    return Response(CalendarEntrySerializer(found).data)


@extend_schema(
    parameters=[OpenApiParameter("start", dt.date, required=True), OpenApiParameter("end", dt.date, required=True)],
    responses=SchoolDayOut(many=True),
)
@api_view(["GET"])
def school_days(request: Request, campus_id) -> Response:
    """Every day of [start, end] at a campus: school day or not, and why."""
    campus = get_object_or_404(Campus.objects.visible_to(request.user).select_related("school"), pk=campus_id)
    try:
        start = dt.date.fromisoformat(request.query_params.get("start", ""))
        end = dt.date.fromisoformat(request.query_params.get("end", ""))
    except ValueError as exc:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", "Dates are YYYY-MM-DD") from exc
    if end < start or (end - start).days > MAX_RANGE_DAYS:
        raise ValidationFailed("日期范围无效（至多 400 天）", "Invalid range (at most 400 days)")
    cal = services.calendar_for(campus, start, end)
    rows = []
    day = start
    while day <= end:
        school_day, reason = cal.why(day)
        rows.append({"day": day, "school_day": school_day, "reason": reason})
        day += dt.timedelta(days=1)
    return Response(SchoolDayOut(rows, many=True).data)
