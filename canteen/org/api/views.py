from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response

from .. import selectors
from .serializers import CampusSerializer, MeSerializer, SchoolSerializer, StudentSerializer


class SchoolViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SchoolSerializer

    def get_queryset(self):
        return selectors.schools_visible(actor=self.request.user).order_by("code")


class CampusViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CampusSerializer

    def get_queryset(self):
        return selectors.campuses_visible(actor=self.request.user).order_by("code")


class StudentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StudentSerializer

    def get_queryset(self):
        return selectors.students_visible(actor=self.request.user, search=self.request.query_params.get("q", ""))


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
def me(request):
    return Response(MeSerializer(request.user).data)
