"""Checkout API. Thin: parse, call a service, shape the answer."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import authentication, generics
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import json as drf_json
from rest_framework.views import APIView

from canteen.accounts.authentication import ExpiringTokenAuthentication
from canteen.core.api import exception_handler, idempotent_response
from canteen.core.errors import DomainError, Forbidden
from canteen.core.idempotency import check_key

from .. import selectors, services
from ..errors import RecordNotFound
from ..models import MealRecord
from .auth import TerminalTokenAuthentication, terminal_of
from .serializers import (
    CheckoutRequestSerializer,
    CheckoutResponseSerializer,
    MealRecordSerializer,
    TerminalSerializer,
    VoidRequestSerializer,
    checkout_request,
    record_body,
    student_card,
)

AUTH = [
    TerminalTokenAuthentication,
    authentication.SessionAuthentication,
    ExpiringTokenAuthentication,
]
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="one per checkout"
)


def _require_terminal(request: Request):
    terminal = terminal_of(request)
    if terminal is None:
        raise Forbidden("仅限窗口终端调用", "Only a window terminal may call this")
    return terminal


def _plain(data: Any) -> Any:
    """Serializer output as plain JSON types: the idempotency record stores the body as JSON."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def checkout_body(result: services.CheckoutResult) -> dict:
    record = result.record
    return {
        "record": record_body(record),
        "student": student_card(record.student),
        "balance_after_fen": result.balance_after.fen if result.balance_after is not None else None,
        "replayed": result.replayed,
    }


class CheckoutView(generics.ListAPIView):
    """POST: check a student out at a window (idempotent). GET: meal records the caller may see."""

    authentication_classes = AUTH
    serializer_class = MealRecordSerializer

    def dispatch(self, request, *args, **kwargs):
        # A terminal's well-formed checkout, the request every window sends all lunch long, is
        # answered without DRF's request wrapping, negotiation and rendering (8 % of its cost
        # in the web process). Anything else, and every refusal before the checkout runs,
        # takes DRF's path below, which words it (tests/test_checkout_api_paths.py).
        answered = _terminal_checkout(request)
        if answered is not None:
            return answered
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.meal_records(
            actor=self.request.user,
            campus_id=params.get("campus") or None,
            student_id=params.get("student") or None,
            served_on=params.get("served_on") or None,
            status=params.get("status") or None,
        )

    @extend_schema(
        request=CheckoutRequestSerializer,
        responses={201: CheckoutResponseSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request) -> Response:
        # The meal record is this endpoint's idempotency record: its unique key makes a retry
        # (same key) return the recorded meal, whatever failed between the terminal and here,
        # and a key already used for another student is refused. A refusal (no balance, already
        # served) stores nothing, so a retry after a top-up is served.
        key = check_key(request.headers.get("Idempotency-Key"))
        data = checkout_request(request.data)
        result = _checkout(request.user, terminal_of(request), key, data, services.request_digest(request.data))
        response = Response(checkout_body(result), status=201)
        response["Idempotent-Replayed"] = "true" if result.replayed else "false"
        return response


def _checkout(actor: Any, terminal: Any, key: str, data: dict, digest: str = "") -> services.CheckoutResult:
    return services.checkout_at_window(
        actor=actor,
        terminal=terminal,
        method=data["method"],
        idempotency_key=key,
        student_id=data.get("student_id"),
        qr_token=data.get("qr_token"),
        student_number=data.get("student_number"),
        pin=data.get("pin"),
        window_id=data.get("window_id"),
        identified_at=data.get("identified_at"),
        match_distance=data.get("match_distance"),
        match_margin=data.get("match_margin"),
        served_offline=data.get("served_offline", False),
        expires_at=data.get("expires_at"),
        request_digest=digest,
    )


_JSON = JSONRenderer()


def _json_response(body: Any, status: int) -> HttpResponse:
    return HttpResponse(_JSON.render(body), status=status, content_type="application/json")


def _terminal_checkout(request: Any) -> HttpResponse | None:
    """POST /checkouts/ from a terminal, as CheckoutView.post answers it, or None when DRF must
    answer: another method, caller, content type or accepted type, a token that does not
    authenticate, a body or key that does not validate (DRF words those refusals; nothing has
    run yet)."""
    if request.method != "POST" or request.content_type != "application/json":
        return None
    accept = request.META.get("HTTP_ACCEPT", "*/*")
    if "text/html" in accept or not ("application/json" in accept or "*/*" in accept):
        return None  # DRF negotiates: the browsable page, or 406
    try:
        authenticated = TerminalTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    if authenticated is None:
        return None
    principal, terminal = authenticated
    try:
        raw = drf_json.loads(request.body.decode("utf-8"))  # strict as DRF's parser: no NaN
        key = check_key(request.headers.get("Idempotency-Key"))
        data = checkout_request(raw)
    except (ValueError, DomainError, DRFValidationError):
        return None
    try:
        result = _checkout(principal, terminal, key, data, services.request_digest(raw))
    except Exception as exc:  # as DRF's handle_exception: the API's error body, or re-raised
        refused = exception_handler(exc, {})
        if refused is None:
            raise
        response = _json_response(refused.data, refused.status_code)
        for name, value in refused.items():  # WWW-Authenticate, Retry-After: not its type
            if name.lower() != "content-type":
                response[name] = value
        return response
    response = _json_response(checkout_body(result), 201)
    response["Idempotent-Replayed"] = "true" if result.replayed else "false"
    return response


class CheckoutByKeyView(APIView):
    """The record a checkout key produced, if any: a terminal reconciles a request whose answer
    it never received."""

    authentication_classes = AUTH

    @extend_schema(responses={200: MealRecordSerializer})
    def get(self, request: Request, key: str) -> Response:
        record = selectors.meal_record_by_key(actor=request.user, idempotency_key=key)
        if record is None:
            raise RecordNotFound(details={"key": key})
        return Response(MealRecordSerializer(record).data)


class VoidView(APIView):
    authentication_classes = AUTH

    @extend_schema(
        request=VoidRequestSerializer, responses={200: MealRecordSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request: Request, pk: str) -> Response:
        serializer = VoidRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = MealRecord.objects.visible_to(request.user).filter(pk=pk).first()
        if record is None:
            raise RecordNotFound()
        terminal = terminal_of(request)
        if terminal is None and getattr(request.user, "role", None) not in services.WINDOW_ROLES:
            if not request.user.is_superuser:
                raise Forbidden()

        def operation() -> tuple[int, dict]:
            voided = services.meal_record_void(
                record=record, actor=request.user, reason=serializer.validated_data["reason"]
            )
            return 200, _plain(MealRecordSerializer(voided).data)

        return idempotent_response(request, scope=f"consumption.void:{pk}", operation=operation)


class TerminalMeView(APIView):
    """The terminal's own configuration; also its heartbeat."""

    authentication_classes = AUTH

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        from canteen.identity import selectors as identity_selectors
        from canteen.meals import selectors as meals_selectors

        terminal = _require_terminal(request)
        services.terminal_touch(terminal=terminal, gallery_version=request.headers.get("X-Gallery-Version"))
        sessions = meals_selectors.sessions_of(actor=request.user, campus=terminal.campus).filter(active=True)
        prices = meals_selectors.set_meals_of(actor=request.user, campus=terminal.campus).filter(active=True)
        return Response(
            {
                **TerminalSerializer(terminal).data,
                "gallery_version": str(identity_selectors.gallery_version(campus=terminal.campus)),
                "server_time": timezone.now().isoformat(),
                "timezone": settings.TIME_ZONE,
                "sessions": [
                    {"kind": s.kind, "start": s.serve_start.strftime("%H:%M"), "end": s.serve_end.strftime("%H:%M")}
                    for s in sessions
                ],
                "offline_price_fen": max((p.price_fen for p in prices), default=0),
                # A request older than this has either been answered or died with its process.
                "request_deadline_s": int(getattr(settings, "CANTEEN_WEB_TIMEOUT", 30)),
                # Must a face checkout prove a live face (camera signal or multi-frame check)?
                "face_liveness": services.campus_face_liveness(campus=terminal.campus),
            }
        )


class TerminalGalleryView(APIView):
    """The campus gallery as the encrypted package the identity service builds; 304 when the
    terminal already holds this version."""

    authentication_classes = AUTH

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request) -> HttpResponse:
        from canteen.identity import selectors as identity_selectors
        from canteen.identity import services as identity_services

        terminal = _require_terminal(request)
        version = str(identity_selectors.gallery_version(campus=terminal.campus))
        etag = f'"{version}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponse(status=304)
        else:
            # The template read is audited with the terminal as its actor, not as "system".
            data = identity_services.terminal_gallery_package(campus=terminal.campus, actor=request.user)
            services.terminal_gallery_fetched(terminal=terminal, version=version)
            response = HttpResponse(data, content_type="application/octet-stream")
        response["ETag"] = etag
        response["X-Gallery-Version"] = version
        services.terminal_touch(terminal=terminal, gallery_version=request.headers.get("X-Gallery-Version"))
        return response


class TerminalRosterView(APIView):
    authentication_classes = AUTH

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        terminal = _require_terminal(request)
        return Response({"students": selectors.terminal_roster(terminal=terminal)})
