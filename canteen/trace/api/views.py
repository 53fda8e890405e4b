"""Trace API: device point upload, device registration, EPCIS export/import, lineage, recalls."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from canteen.core.errors import Forbidden, ValidationFailed

from .. import keys, recalls, selectors, services
from ..bodylimit import read_limited
from ..errors import EpcisImportRejected
from ..models import EpcisCapture, TraceCode, TransportDevice
from . import serializers

IMPORT_ROLES = {"district_regulator", "city_regulator"}
DEVICE_ADMIN_ROLES = {"district_regulator", "supplier_user"}


class DeviceTokenAuthentication(BaseAuthentication):
    """`Authorization: Device <token>`: the vehicle or app, not a person."""

    keyword = "Device"

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith(self.keyword + " "):
            return None
        device = services.device_for_token(header[len(self.keyword) + 1 :].strip())
        return (None, device)

    def authenticate_header(self, request) -> str:
        return self.keyword


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Device <token>` in the OpenAPI schema."""

    target_class = DeviceTokenAuthentication
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Device <token>`: a supplier vehicle's or app's token for posting GPS and temperatures.",
        }


class HasDevice(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, TransportDevice)


class TrackPointsView(APIView):
    """A device posts its GPS points and temperatures for a trip, in batches of up to 1000.
    Resending is safe: each (device, seq) is stored once; order does not matter."""

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [HasDevice]

    @extend_schema(request=serializers.TrackPointsSerializer, responses=serializers.TrackPointsResultSerializer)
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        result = services.track_points_record(
            device=request.auth,
            trip_ref=str(body.get("trip", "")),
            delivery_id=body.get("delivery") or None,
            points=body.get("points"),
        )
        return Response(result, status=status.HTTP_200_OK)


class DeviceRegisterView(APIView):
    @extend_schema(request=serializers.DeviceRegisterSerializer, responses=serializers.DeviceCreatedSerializer)
    def post(self, request):
        from canteen.procurement.models import Supplier

        data = serializers.DeviceRegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if request.user.role not in DEVICE_ADMIN_ROLES and not request.user.is_superuser:
            raise Forbidden()
        supplier = get_object_or_404(Supplier.objects.visible_to(request.user), pk=data.validated_data["supplier"])
        device, token = services.device_register(
            actor=request.user, supplier=supplier, name=data.validated_data["name"], kind=data.validated_data["kind"]
        )
        return Response({"id": str(device.pk), "token": token, "name": device.name}, status=status.HTTP_201_CREATED)


class RawJSONParser(BaseParser):
    """Hands the body over unparsed: the EPCIS importer parses it itself, defensively."""

    media_type = "application/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


def _raw_body(request) -> bytes:
    """The body, read here within the EPCIS limit (never through request.data, which would
    read it all first)."""
    return read_limited(request._request)


def _capture_district(request) -> Any:
    """Where a capture goes: a regulator's district; a supplier's own district."""
    user = request.user
    if user.is_superuser or user.role in IMPORT_ROLES:
        district_id = user.district_id or request.query_params.get("district")
        if not district_id:
            raise ValidationFailed(details={"district": "required"})
        return district_id
    if user.role == "supplier_user":
        from canteen.procurement.models import SupplierMember

        member = SupplierMember.objects.filter(user=user).select_related("supplier").first()
        if member is not None:
            return member.supplier.district_id
    raise Forbidden()


class EpcisView(APIView):
    parser_classes = [RawJSONParser]

    @extend_schema(
        parameters=[OpenApiParameter("codes", str, description="trace codes, comma separated")],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        wanted = [c.strip().upper() for c in request.query_params.get("codes", "").split(",") if c.strip()][:200]
        codes = list(TraceCode.objects.visible_to(request.user).filter(code__in=wanted))
        if not codes:
            raise ValidationFailed(details={"codes": "no visible trace code given"})
        doc = selectors.epcis_export(actor=request.user, codes=codes)
        return Response(doc, content_type="application/ld+json")

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        if request.user.role not in IMPORT_ROLES and not request.user.is_superuser:
            raise Forbidden()
        district_id = _capture_district(request)
        result = services.epcis_import(actor=request.user, raw=_raw_body(request), district_id=district_id)
        return Response(result, status=status.HTTP_201_CREATED)


class EpcisCaptureView(APIView):
    """EPCIS 2.0 REST binding, `POST /capture`: an EPCISDocument in the body. Captured at once
    (all or nothing) and answered 202 with the outcome and `Location: .../capture/{id}`; a
    refused document answers 4xx with every wrong event (and is recorded as a failed capture
    job too). Regulators capture into their district; a supplier's system into its own
    district, about the batches it supplied."""

    parser_classes = [RawJSONParser]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        district_id = _capture_district(request)
        try:
            result = services.epcis_import(actor=request.user, raw=_raw_body(request), district_id=district_id)
        except EpcisImportRejected as exc:
            job = EpcisCapture.objects.create(
                district_id=district_id,
                created_by=request.user,
                success=False,
                errors=[exc.details.get("reason", "")] + list(exc.details.get("events", []))[:50],
            )
            exc.details["captureID"] = str(job.pk)
            raise
        job = EpcisCapture.objects.create(
            district_id=district_id, created_by=request.user, success=True, events=result["imported"]
        )
        response = Response({**result, "captureID": str(job.pk)}, status=status.HTTP_202_ACCEPTED)
        response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{job.pk}")
        response["GS1-EPCIS-Version"] = "2.0.0"
        response["GS1-CBV-Version"] = "2.0.0"
        return response


class EpcisCaptureJobView(APIView):
    """`GET /capture/{captureID}`: the outcome of a capture (the standard's capture job)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        job = get_object_or_404(EpcisCapture.objects.visible_to(request.user), pk=pk)
        return Response(
            {
                "captureID": str(job.pk),
                "createdAt": job.created_at,
                "running": False,
                "success": job.success,
                "captureErrorBehaviour": "rollback",
                "errors": job.errors,
            }
        )


class EpcisEventsView(APIView):
    """EPCIS 2.0 REST binding, `GET /events`: an EPCISQueryDocument of the events the caller may
    see, filtered by the standard's SimpleEventQuery parameters (eventType, GE_/LT_eventTime,
    GE_/LT_recordTime, EQ_bizStep, EQ_disposition, EQ_readPoint, EQ_bizLocation, EQ_eventID,
    MATCH_anyEPC, MATCH_epcClass) and paged with perPage / nextPageToken."""

    @extend_schema(
        parameters=[OpenApiParameter(name, str) for name in selectors.QUERY_PARAMS],
        responses={
            200: OpenApiTypes.OBJECT,
            # The standard's QueryParameterException ({type, title, status}) for a bad query
            # parameter; the project's error envelope when the request is refused before the view
            # (NUL bytes, size): either way a JSON object.
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="QueryParameterException or the error envelope"),
        },
    )
    def get(self, request):
        params = {k: v for k, v in request.query_params.items()}
        try:
            events, next_token = selectors.epcis_events_query(actor=request.user, params=params)
        except selectors.QueryParameterError as exc:
            return Response(
                {"type": "epcisException:QueryParameterException", "title": str(exc), "status": 400}, status=400
            )
        response = Response(selectors.query_document(events), content_type="application/ld+json")
        response["GS1-EPCIS-Version"] = "2.0.0"
        response["GS1-CBV-Version"] = "2.0.0"
        if next_token:
            query = request.GET.copy()
            query["nextPageToken"] = next_token
            response["Link"] = f'<{request.build_absolute_uri(request.path)}?{query.urlencode()}>; rel="next"'
        return response


class RecallView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, code: str):
        trace_code = get_object_or_404(TraceCode.objects.visible_to(request.user), code=code.upper())
        return Response(selectors.recall_query(actor=request.user, code=trace_code))

    @extend_schema(request=serializers.RecallSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, code: str):
        trace_code = get_object_or_404(TraceCode.objects.visible_to(request.user), code=code.upper())
        recall = services.recall_raise(actor=request.user, code=trace_code, reason=request.data.get("reason", ""))
        return Response({"id": str(recall.pk), "affected": recall.affected}, status=status.HTTP_201_CREATED)


class Gs1KeyView(APIView):
    """Register the GS1 key a party holds: a supplier's or producer's GLN, a producer's GTIN of a
    catalogue item (subject `product:<item id>:<producer digest>`, see keys.product_subject), a
    campus's GLN. Regulators only; later trace codes and exports use it."""

    @extend_schema(request=serializers.Gs1KeySerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = serializers.Gs1KeySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        subject = values.get("subject") or ""
        if not subject and values.get("item") and values.get("producer"):
            subject = keys.product_subject(values["item"], values["producer"])
        district_id = request.user.district_id or values.get("district")
        if not district_id or not subject:
            raise ValidationFailed(details={"district": str(district_id or ""), "subject": subject})
        key = keys.gs1_key_register(
            actor=request.user,
            district_id=district_id,
            kind=values["kind"],
            subject=subject,
            number=values["number"],
            company_prefix_length=values["company_prefix_length"],
        )
        return Response(
            {"kind": key.kind, "subject": key.subject, "number": key.number}, status=status.HTTP_201_CREATED
        )


def _recall(request, pk):
    return get_object_or_404(selectors.recalls_visible(request.user), pk=pk)


class RecallPupilsView(APIView):
    """The pupils who ate a recalled lot (school administration, canteen manager, regulators;
    audited)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        recall = _recall(request, pk)
        if not (request.user.is_superuser or request.user.role in selectors.PUPIL_ROLES):
            raise Forbidden()
        return Response(
            {"recall": str(recall.pk), "pupils": selectors.recall_pupils(actor=request.user, recall=recall)}
        )


class RecallConfirmView(APIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk, campus_id):
        entry = recalls.recall_confirm(
            actor=request.user, recall=_recall(request, pk), campus_id=campus_id, note=str(request.data.get("note", ""))
        )
        return Response({"campus_id": str(entry.campus_id), "confirmed_at": entry.confirmed_at})


class RecallCloseView(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk):
        recall = recalls.recall_close(actor=request.user, recall=_recall(request, pk))
        return Response({"id": str(recall.pk), "status": recall.status, "closed_at": recall.closed_at})


class DishBatchesView(APIView):
    @extend_schema(parameters=[serializers.DishBatchesQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        query = serializers.DishBatchesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        rows = selectors.dish_batches(
            actor=request.user, campus=q["campus"], day=q["day"], meal_kind=q["meal"], dish_id=q.get("dish")
        )
        return Response({"batches": rows})
