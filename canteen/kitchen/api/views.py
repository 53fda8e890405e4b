from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from canteen.core.api import ScopedQuerysetMixin, idempotent_response
from canteen.core.errors import NotFound

from .. import selectors, services
from ..models import Alarm, Camera
from .serializers import (
    AlarmMoveSerializer,
    AlarmSerializer,
    CameraSerializer,
    FoodSampleInSerializer,
    FoodSampleSerializer,
)


class CameraViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    scoped_model = Camera
    serializer_class = CameraSerializer

    def get_queryset(self):
        qs = super().get_queryset().select_related("canteen", "health").order_by("canteen__code", "sort_order")
        area = self.request.query_params.get("area")
        return qs.filter(area=area) if area else qs


class AlarmViewSet(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    scoped_model = Alarm
    serializer_class = AlarmSerializer

    def get_queryset(self):
        qs = super().get_queryset().select_related("camera").order_by("-at")
        status = self.request.query_params.get("status")
        return qs.filter(status=status) if status else qs

    @extend_schema(request=AlarmMoveSerializer, responses=AlarmSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        data = AlarmMoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alarm = services.alarm_move(actor=request.user, alarm_id=pk, to_status=data.validated_data["to"],
                                    note=data.validated_data["note"])  # fmt: skip
        return Response(AlarmSerializer(alarm).data)


class FoodSampleCreate(APIView):
    """Record a food sample (phones retry on poor kitchen Wi-Fi: Idempotency-Key required)."""

    @extend_schema(request=FoodSampleInSerializer, responses={201: FoodSampleSerializer})
    def post(self, request):
        data = FoodSampleInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        canteen = selectors.canteens_for(actor=request.user).filter(pk=values.pop("canteen")).first()
        if canteen is None:
            raise NotFound()

        def operation():
            sample = services.food_sample_record(actor=request.user, canteen=canteen, **values)
            # Stored for replay as JSON: related ids come out of DRF as UUID objects.
            return 201, json.loads(json.dumps(FoodSampleSerializer(sample).data, cls=DjangoJSONEncoder))

        return idempotent_response(request, scope=f"kitchen.sample:{request.user.pk}", operation=operation)
