"""Thin API views over supervision's services and selectors."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from canteen.core.clientip import client_ip as _client_ip
from canteen.core.errors import Forbidden, NotFound

from .. import selectors, services
from ..choices import CaseStatus
from . import serializers as s

UNIT_PARAMS = [
    OpenApiParameter("level", str, enum=list(selectors.LEVELS)),
    OpenApiParameter("id", str),
    OpenApiParameter("start", str, description="YYYY-MM-DD"),
    OpenApiParameter("end", str, description="YYYY-MM-DD"),
]


def unit_from(request: Request) -> selectors.Unit:
    level, unit_id = request.query_params.get("level"), request.query_params.get("id")
    if level and unit_id:
        return selectors.resolve_unit(actor=request.user, level=level, unit_id=unit_id)
    return selectors.default_unit(request.user)


def _regulator(request: Request) -> None:
    if not (request.user.is_superuser or request.user.role in {"city_regulator", "district_regulator"}):
        raise Forbidden()


@extend_schema(parameters=UNIT_PARAMS, responses={200: dict})
@api_view(["GET"])
def dashboard(request: Request) -> Response:
    """Every dashboard figure for a city, district, school or campus over a date range."""
    unit = unit_from(request)
    start, end = selectors.parse_range(request.query_params.get("start"), request.query_params.get("end"))
    return Response(selectors.dashboard(actor=request.user, unit=unit, start=start, end=end))


@extend_schema(parameters=UNIT_PARAMS[:2], responses={200: dict})
@api_view(["GET"])
def bigscreen(request: Request) -> Response:
    """The big screen's live data (polled every few seconds)."""
    return Response(selectors.bigscreen(actor=request.user, unit=unit_from(request)))


@extend_schema(
    parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str), OpenApiParameter("district", str)],
    responses={200: dict},
)
@api_view(["GET"])
def ranking(request: Request) -> Response:
    """比晾晒: schools ranked by timeliness and recurrence of their cases."""
    start, end = selectors.parse_range(request.query_params.get("start"), request.query_params.get("end"))
    rows = selectors.school_ranking(
        actor=request.user, start=start, end=end, district_id=request.query_params.get("district") or None
    )
    return Response({"start": start, "end": end, "schools": rows})


class CaseList(ListAPIView):
    serializer_class = s.CaseSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=CaseStatus.values),
            OpenApiParameter("source", str),
            OpenApiParameter("flag", str),
            OpenApiParameter("open", bool),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        q = self.request.query_params
        return selectors.cases_visible(
            actor=self.request.user,
            status=q.get("status") or None,
            source=q.get("source") or None,
            flag=q.get("flag") or None,
            open_only=q.get("open") in ("1", "true"),
        )


class CaseDetail(RetrieveAPIView):
    serializer_class = s.CaseDetailSerializer

    def get_object(self):
        return selectors.case_get(actor=self.request.user, case_id=self.kwargs["pk"])


def _case_response(case: Any, code: int = status.HTTP_200_OK) -> Response:
    case = selectors.Case.objects.prefetch_related("steps", "evidence").get(pk=case.pk)
    return Response(s.CaseDetailSerializer(case).data, status=code)


@extend_schema(request=s.CaseOpenSerializer, responses={201: s.CaseDetailSerializer})
@api_view(["POST"])
def case_open(request: Request) -> Response:
    _regulator(request)
    data = s.CaseOpenSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    selectors.resolve_unit(actor=request.user, level="district", unit_id=v["district"])
    case, created = services.case_open(
        actor=request.user,
        source=v["source"],
        title=v["title"],
        description=v["description"],
        district_id=v["district"],
        school_id=v.get("school"),
        campus_id=v.get("campus"),
        severity=v["severity"],
    )
    return _case_response(case, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(request=s.CaseAssignSerializer, responses={200: s.CaseDetailSerializer})
@api_view(["POST"])
def case_assign(request: Request, pk) -> Response:
    case = selectors.case_get(actor=request.user, case_id=pk)
    data = s.CaseAssignSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    return _case_response(
        services.case_assign(
            case=case,
            actor=request.user,
            deadline=v.get("deadline"),
            school_id=v.get("school"),
            campus_id=v.get("campus"),
            note=v["note"],
        )
    )


@extend_schema(request={"multipart/form-data": s.CaseRespondSerializer}, responses={200: s.CaseDetailSerializer})
@api_view(["POST"])
def case_respond(request: Request, pk) -> Response:
    case = selectors.case_get(actor=request.user, case_id=pk)
    files = request.FILES.getlist("files")
    data = s.CaseRespondSerializer(data={"note": request.data.get("note", "")})
    data.is_valid(raise_exception=True)
    return _case_response(
        services.case_respond(case=case, actor=request.user, note=data.validated_data["note"], files=files)
    )


@extend_schema(request=s.CaseReviewSerializer, responses={200: s.CaseDetailSerializer})
@api_view(["POST"])
def case_review(request: Request, pk) -> Response:
    case = selectors.case_get(actor=request.user, case_id=pk)
    data = s.CaseReviewSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    return _case_response(
        services.case_review(
            case=case, actor=request.user, accept=v["accept"], note=v["note"], deadline=v.get("deadline")
        )
    )


@extend_schema(request=s.NoteSerializer, responses={200: s.CaseDetailSerializer})
@api_view(["POST"])
def case_close(request: Request, pk) -> Response:
    case = selectors.case_get(actor=request.user, case_id=pk)
    data = s.NoteSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return _case_response(services.case_close(case=case, actor=request.user, note=data.validated_data["note"]))


@extend_schema(request=s.NoteSerializer, responses={200: s.CaseDetailSerializer})
@api_view(["POST"])
def case_dismiss(request: Request, pk) -> Response:
    case = selectors.case_get(actor=request.user, case_id=pk)
    data = s.NoteSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return _case_response(services.case_dismiss(case=case, actor=request.user, note=data.validated_data["note"]))


class InspectionList(ListAPIView):
    serializer_class = s.InspectionSerializer

    def get_queryset(self):
        return selectors.inspections_visible(actor=self.request.user).prefetch_related("items")


class InspectionDetail(RetrieveAPIView):
    serializer_class = s.InspectionSerializer

    def get_object(self):
        return selectors.inspection_get(actor=self.request.user, inspection_id=self.kwargs["pk"])


@extend_schema(request=s.InspectionPlanSerializer, responses={201: s.InspectionSerializer})
@api_view(["POST"])
def inspection_plan(request: Request) -> Response:
    data = s.InspectionPlanSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    inspection = services.inspection_plan(
        actor=request.user, campus_id=v["campus"], planned_on=v["planned_on"], inspector_ids=v["inspectors"]
    )
    return Response(s.InspectionSerializer(inspection).data, status=status.HTTP_201_CREATED)


@extend_schema(request=s.InspectionDrawSerializer, responses={201: s.InspectionSerializer(many=True)})
@api_view(["POST"])
def inspection_draw(request: Request) -> Response:
    data = s.InspectionDrawSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    drawn = services.inspection_draw_random(
        actor=request.user,
        district_id=v["district"],
        campuses=v["campuses"],
        inspectors_per_inspection=v["inspectors_per_inspection"],
        planned_on=v["planned_on"],
        seed=v.get("seed"),
    )
    return Response(s.InspectionSerializer(drawn, many=True).data, status=status.HTTP_201_CREATED)


@extend_schema(request=s.InspectionRecordSerializer, responses={200: s.InspectionSerializer})
@api_view(["POST"])
def inspection_record(request: Request, pk) -> Response:
    data = s.InspectionRecordSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    inspection = services.inspection_record(
        actor=request.user,
        inspection=pk,
        results={r["code"]: (r["result"], r["note"]) for r in v["results"]},
        summary=v["summary"],
    )
    return Response(s.InspectionSerializer(inspection).data)


class FeedbackList(ListAPIView):
    serializer_class = s.FeedbackSerializer

    def get_queryset(self):
        return selectors.feedback_visible(actor=self.request.user)


@extend_schema(request=s.FeedbackAnswerSerializer, responses={200: s.FeedbackSerializer})
@api_view(["POST"])
def feedback_answer(request: Request, pk) -> Response:
    data = s.FeedbackAnswerSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return Response(
        s.FeedbackSerializer(
            services.feedback_answer(feedback=pk, actor=request.user, answer=data.validated_data["answer"])
        ).data
    )


def client_ip(request: Any) -> str:
    # Only X-Forwarded-For entries written by our own proxies count (CANTEEN_TRUSTED_PROXIES).
    return _client_ip(request) or "unknown"


@extend_schema(request=s.FeedbackSubmitSerializer, responses={201: dict}, auth=[])
@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([])
def public_feedback_submit(request: Request) -> Response:
    """A parent's feedback from the canteen's QR code; no login. Rate-limited in the database."""
    data = s.FeedbackSubmitSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    feedback = services.feedback_submit(
        canteen_code=v["canteen"], kind=v["kind"], text=v["text"], rating=v.get("rating"), contact=v["contact"],
        ip=client_ip(request),
    )  # fmt: skip
    return Response({"follow_code": feedback.follow_code, "status": feedback.status}, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: dict}, auth=[])
@api_view(["GET"])
@permission_classes([AllowAny])
def public_feedback_follow(request: Request, code: str) -> Response:
    """What a parent may see of their feedback: status, answer, and the case's progress."""
    feedback = selectors.feedback_follow(code=code)
    if feedback is None:
        raise NotFound()  # the one error body, as every other 404
    return Response(
        {
            "follow_code": feedback.follow_code,
            "canteen": feedback.canteen.name,
            "kind": feedback.kind,
            "status": feedback.status,
            "answer": feedback.answer,
            "answered_at": feedback.answered_at,
            "case_status": feedback.case.status if feedback.case else None,
            "submitted_at": feedback.created_at,
        }
    )
