"""Trace API: device point upload, device registration, EPCIS export/import, lineage, recalls."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from canteen.core.errors import Forbidden, ValidationFailed

from .. import selectors, services
from ..errors import EpcisImportRejected
from ..models import TraceCode, TransportDevice
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
        district_id = request.user.district_id or request.query_params.get("district")
        if not district_id:
            raise ValidationFailed(details={"district": "required"})
        try:
            raw = request.data if isinstance(request.data, bytes | str) else b""
        except RequestDataTooBig as exc:
            raise EpcisImportRejected(details={"reason": "document too large"}) from exc
        result = services.epcis_import(actor=request.user, raw=raw, district_id=district_id)
        return Response(result, status=status.HTTP_201_CREATED)


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
