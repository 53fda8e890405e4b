"""Thin views over identity services and selectors. Templates never appear in a response; the
only face data that leaves is the encrypted terminal package."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from canteen.core.errors import Forbidden

from .. import selectors, services
from ..access import is_staff_of_campus
from ..consent_text import CURRENT_VERSION, consent_text, consent_text_sha256
from . import serializers as s


def _status(actor, student):
    return selectors.students_status(actor=actor, students=[student])[0]


class ConsentTextView(APIView):
    @extend_schema(responses=s.ConsentTextSerializer)
    def get(self, request):
        version = request.query_params.get("version", CURRENT_VERSION)
        zh, en = consent_text(version)
        return Response({"version": version, "text_zh": zh, "text_en": en, "sha256": consent_text_sha256(version)})


class StudentIdentityView(APIView):
    @extend_schema(responses=s.StudentIdentitySerializer)
    def get(self, request, student_id):
        student = selectors.student_for(actor=request.user, student_id=student_id)
        if not (is_staff_of_campus(request.user, student.campus) or selectors.is_guardian(request.user, student)):
            raise Forbidden()
        return Response(s.StudentIdentitySerializer(_status(request.user, student)).data)


class ConsentView(APIView):
    @extend_schema(request=s.ConsentGiveSerializer, responses={201: s.ConsentSerializer})
    def post(self, request, student_id):
        student = selectors.student_for(actor=request.user, student_id=student_id)
        data = s.ConsentGiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consent = services.consent_give(
            student=student,
            actor=request.user,
            keep_display_photo=data.validated_data["keep_display_photo"],
            text_version=data.validated_data.get("text_version") or CURRENT_VERSION,
        )
        return Response(s.ConsentSerializer(consent).data, status=201)


class ConsentWithdrawView(APIView):
    @extend_schema(request=s.ConsentWithdrawSerializer, responses=s.ConsentSerializer)
    def post(self, request, student_id):
        student = selectors.student_for(actor=request.user, student_id=student_id)
        data = s.ConsentWithdrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consent = services.consent_withdraw(
            student=student, actor=request.user, reason=data.validated_data.get("reason", "")
        )
        return Response(s.ConsentSerializer(consent).data)


class EnrolView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": s.EnrolSerializer}, responses={201: s.EnrolResultSerializer})
    def post(self, request, student_id):
        student = selectors.student_for(actor=request.user, student_id=student_id)
        data = s.EnrolSerializer(data={**request.data.dict(), "photos": request.FILES.getlist("photos")})
        data.is_valid(raise_exception=True)
        photos = [f.read(services.MAX_PHOTO_BYTES + 1) for f in data.validated_data["photos"]]
        templates = services.face_enrol(
            student=student,
            actor=request.user,
            photos=photos,
            source=data.validated_data["source"],
            keep_photo=data.validated_data["keep_photo"],
        )
        return Response(
            {"templates": len(templates), "gallery_version": selectors.gallery_version(campus=student.campus)},
            status=201,
        )


class QrIssueView(APIView):
    @extend_schema(request=None, responses={201: s.QrTokenSerializer})
    def post(self, request, student_id):
        student = selectors.student_for(actor=request.user, student_id=student_id)
        return Response({"token": services.qr_credential_issue(student=student, actor=request.user)}, status=201)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, student_id):
        student = selectors.student_for(actor=request.user, student_id=student_id)
        services.qr_credential_revoke(student=student, actor=request.user)
        return Response(status=204)


class PinSetView(APIView):
    @extend_schema(request=s.PinSetSerializer, responses={204: None})
    def post(self, request, student_id):
        student = selectors.student_for(actor=request.user, student_id=student_id)
        data = s.PinSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.pin_set(student=student, pin=data.validated_data["pin"], actor=request.user)
        return Response(status=204)


class VerifyQrView(APIView):
    """For window staff (a manual scanner, a tablet): who is this card?"""

    @extend_schema(request=s.VerifyQrSerializer, responses=s.VerifiedStudentSerializer)
    def post(self, request):
        data = s.VerifyQrSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campus = selectors.campus_for(actor=request.user, campus_id=data.validated_data["campus_id"])
        if not is_staff_of_campus(request.user, campus):
            raise Forbidden()
        student = services.credential_verify_qr(token=data.validated_data["token"], campus=campus)
        return Response(s.VerifiedStudentSerializer(student).data)


class VerifyPinView(APIView):
    @extend_schema(request=s.VerifyPinSerializer, responses=s.VerifiedStudentSerializer)
    def post(self, request):
        data = s.VerifyPinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campus = selectors.campus_for(actor=request.user, campus_id=data.validated_data["campus_id"])
        if not is_staff_of_campus(request.user, campus):
            raise Forbidden()
        student = services.credential_verify_pin(
            campus=campus, student_number=data.validated_data["student_number"], pin=data.validated_data["pin"]
        )
        return Response(s.VerifiedStudentSerializer(student).data)


class GalleryVersionView(APIView):
    @extend_schema(responses=s.GalleryVersionSerializer)
    def get(self, request, campus_id):
        campus = selectors.campus_for(actor=request.user, campus_id=campus_id)
        if not is_staff_of_campus(request.user, campus):
            raise Forbidden()
        return Response({"campus_id": campus.pk, "version": selectors.gallery_version(campus=campus)})


class GalleryPackageView(APIView):
    """The encrypted package for a window terminal (staff-authenticated; the consumption app
    serves the same package to terminal tokens)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, campus_id):
        campus = selectors.campus_for(actor=request.user, campus_id=campus_id)
        data = services.terminal_gallery_package(campus=campus, actor=request.user)
        response = HttpResponse(data, content_type="application/octet-stream")
        response["X-Gallery-Version"] = str(services.gallery_package_header(data)["version"])
        return response


class ClassCardsView(APIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, class_id):
        klass = selectors.class_for(actor=request.user, class_id=class_id)
        pdf = services.qr_card_sheet_pdf(school_class=klass, actor=request.user)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="cards-{klass.pk}.pdf"'
        return response


class ClassStatusView(APIView):
    @extend_schema(responses=s.StudentIdentitySerializer(many=True))
    def get(self, request, class_id):
        klass = selectors.class_for(actor=request.user, class_id=class_id)
        rows = selectors.class_enrolment_status(school_class=klass, actor=request.user)
        return Response(s.StudentIdentitySerializer(rows, many=True).data)


class ConsentStatisticsView(APIView):
    @extend_schema(responses=s.ConsentStatisticsSerializer(many=True))
    def get(self, request):
        return Response(s.ConsentStatisticsSerializer(selectors.consent_statistics(actor=request.user), many=True).data)


class DisplayPhotoView(APIView):
    """The one photo a guardian chose to keep, for the window screen (staff of the campus) or the
    guardian; 404 when none was kept. Every read is audited."""

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request, student_id):
        from django.http import Http404

        student = selectors.student_for(actor=request.user, student_id=student_id)
        jpeg = selectors.display_photo_jpeg(student=student, actor=request.user)
        if jpeg is None:
            raise Http404
        response = HttpResponse(jpeg, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        return response
