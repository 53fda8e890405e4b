"""Ledger API. Every money-moving endpoint requires an Idempotency-Key header: the stored
response replays a retried request (core.idempotency), and the same key is the posting's own
idempotency key, so even a request whose stored response expired cannot post twice."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

from django.core.serializers.json import DjangoJSONEncoder
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from canteen.core.api import idempotent_response
from canteen.core.errors import Forbidden, ValidationFailed
from canteen.core.idempotency import check_key
from canteen.core.money import Money
from canteen.org.choices import Role
from canteen.org.models import Campus, Student

from .. import reports, selectors, services
from ..models import Account, Posting
from ..providers import provider_for
from .serializers import (
    ClosureIn,
    MealChargeIn,
    OnlineTopUpIn,
    OnlineTopUpOut,
    PostingSerializer,
    RefundIn,
    ReportRowOut,
    ReverseIn,
    SettingsIn,
    StatementLineSerializer,
    TopUpIn,
    TransferIn,
    WalletSerializer,
)

IDEMPOTENCY_HEADER = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)
CHARGE_ROLES = {Role.WINDOW_OPERATOR, Role.CANTEEN_MANAGER}
OFFICE_ROLES = {Role.CANTEEN_MANAGER, Role.SCHOOL_ADMIN}
FINANCE_ROLES = {Role.CITY_REGULATOR, Role.DISTRICT_REGULATOR, Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER}


def _require(request: Request, roles: set[str]) -> None:
    if not (request.user.is_superuser or request.user.role in roles):
        raise Forbidden()


def _student(request: Request, pk) -> Student:
    return get_object_or_404(Student.objects.visible_to(request.user), pk=pk)


def _posting_body(posting: Posting) -> dict:
    # Stored as the idempotent response: plain JSON types only.
    return json.loads(json.dumps(PostingSerializer(posting).data, cls=DjangoJSONEncoder))


@extend_schema(responses=WalletSerializer(many=True))
@api_view(["GET"])
def wallets(request: Request) -> Response:
    qs = Account.objects.visible_to(request.user).filter(kind="wallet").select_related("student")
    return Response(WalletSerializer(qs.order_by("code")[:500], many=True).data)


@extend_schema(responses=StatementLineSerializer(many=True))
@api_view(["GET"])
def statement(request: Request, student_id) -> Response:
    child = _student(request, student_id)
    lines = selectors.statement_lines(actor=request.user, student=child)
    return Response(StatementLineSerializer(lines, many=True).data)


@extend_schema(request=MealChargeIn, responses={201: PostingSerializer}, parameters=[IDEMPOTENCY_HEADER])
@api_view(["POST"])
def meal_charges(request: Request) -> Response:
    _require(request, CHARGE_ROLES)
    data = MealChargeIn(data=request.data)
    data.is_valid(raise_exception=True)
    key = check_key(request.headers.get("Idempotency-Key"))

    def operation():
        student = _student(request, data.validated_data["student"])
        campus = get_object_or_404(
            Campus.objects.visible_to(request.user), pk=data.validated_data.get("campus") or student.campus_id
        )
        posting = services.meal_charge(
            student=student,
            amount=Money(data.validated_data["amount_fen"]),
            idempotency_key=f"api:{key}",
            campus=campus,
            actor=request.user,
            memo=data.validated_data["memo"],
            meal_ref=data.validated_data["meal_ref"],
        )
        return status.HTTP_201_CREATED, _posting_body(posting)

    return idempotent_response(request, scope="ledger.meal_charge", operation=operation)


@extend_schema(request=TopUpIn, responses={201: PostingSerializer}, parameters=[IDEMPOTENCY_HEADER])
@api_view(["POST"])
def top_ups(request: Request) -> Response:
    """Cash or bank transfer received at the school office."""
    _require(request, OFFICE_ROLES)
    data = TopUpIn(data=request.data)
    data.is_valid(raise_exception=True)
    key = check_key(request.headers.get("Idempotency-Key"))

    def operation():
        posting = services.top_up(
            student=_student(request, data.validated_data["student"]),
            amount=Money(data.validated_data["amount_fen"]),
            channel=data.validated_data["channel"],
            idempotency_key=f"api:{key}",
            actor=request.user,
            provider_ref=data.validated_data["reference"],
        )
        return status.HTTP_201_CREATED, _posting_body(posting)

    return idempotent_response(request, scope="ledger.top_up", operation=operation)


@extend_schema(request=ReverseIn, responses={201: PostingSerializer}, parameters=[IDEMPOTENCY_HEADER])
@api_view(["POST"])
def reverse(request: Request, posting_id) -> Response:
    """Void a meal (refund it) or correct any posting by its reverse, dated today."""
    _require(request, CHARGE_ROLES | OFFICE_ROLES)
    data = ReverseIn(data=request.data)
    data.is_valid(raise_exception=True)
    key = check_key(request.headers.get("Idempotency-Key"))

    def operation():
        posting = get_object_or_404(Posting.objects.visible_to(request.user), pk=posting_id)
        service = services.meal_charge_reverse if posting.kind == "meal_charge" else services.posting_reverse
        reversal = service(
            posting=posting, actor=request.user, reason=data.validated_data["reason"], idempotency_key=f"api:{key}"
        )
        return status.HTTP_201_CREATED, _posting_body(reversal)

    return idempotent_response(request, scope="ledger.reverse", operation=operation)


@extend_schema(request=TransferIn, responses={201: PostingSerializer}, parameters=[IDEMPOTENCY_HEADER])
@api_view(["POST"])
def transfers(request: Request) -> Response:
    data = TransferIn(data=request.data)
    data.is_valid(raise_exception=True)
    key = check_key(request.headers.get("Idempotency-Key"))

    def operation():
        posting = services.transfer(
            from_student=_student(request, data.validated_data["from_student"]),
            to_student=_student(request, data.validated_data["to_student"]),
            amount=Money(data.validated_data["amount_fen"]),
            actor=request.user,
            idempotency_key=f"api:{request.user.pk}:{key}",
        )
        return status.HTTP_201_CREATED, _posting_body(posting)

    return idempotent_response(request, scope=f"ledger.transfer:{request.user.pk}", operation=operation)


@extend_schema(request=OnlineTopUpIn, responses={201: OnlineTopUpOut}, parameters=[IDEMPOTENCY_HEADER])
@api_view(["POST"])
def online_top_ups(request: Request) -> Response:
    """A guardian starts an online top-up; pay at `pay_url`. Money is credited on the provider's
    signed notification only."""
    data = OnlineTopUpIn(data=request.data)
    data.is_valid(raise_exception=True)

    def operation():
        from ..payments import registry
        from ..payments.views import start_for_guardian

        provider = registry.default_provider() or registry.DEMO
        student = _student(request, data.validated_data["student"])
        amount = Money(data.validated_data["amount_fen"])
        if provider == registry.DEMO:
            order = services.topup_order_create(student=student, amount=amount, actor=request.user)
        else:  # a real provider: the order is created there too (H5/wap on a phone, QR on a PC)
            order = start_for_guardian(request, child=student, amount=amount, provider=provider)
        pay_url = request.build_absolute_uri(provider_for(order.provider).checkout_url(order))
        return status.HTTP_201_CREATED, {
            "out_trade_no": order.out_trade_no,
            "amount_fen": order.amount_fen,
            "pay_url": pay_url,
        }

    return idempotent_response(request, scope=f"ledger.online_top_up:{request.user.pk}", operation=operation)


@extend_schema(request=dict, responses={200: dict})
@api_view(["POST"])
@permission_classes([permissions.AllowAny])
def provider_notify(request: Request, provider: str) -> Response:
    """The payment provider's server-to-server callback: signed, and idempotent by its
    transaction id (providers redeliver until they get a success)."""
    if not isinstance(request.data, Mapping):  # a JSON number or list was a TypeError (500)
        raise ValidationFailed(details={"body": "a JSON object"})
    body = dict(request.data)
    signature = request.headers.get("X-Signature") or body.pop("signature", "")
    posting = services.provider_notification_handle(provider=provider, body=body, signature=signature)
    return Response({"code": "SUCCESS", "posting_id": str(posting.pk)})


@extend_schema(request=SettingsIn, responses=WalletSerializer)
@api_view(["PUT"])
def wallet_settings(request: Request, student_id) -> Response:
    data = SettingsIn(data=request.data)
    data.is_valid(raise_exception=True)
    limit = data.validated_data["daily_limit_fen"]
    alert = data.validated_data["low_balance_alert_fen"]
    account = services.wallet_settings_update(
        student=_student(request, student_id),
        actor=request.user,
        daily_limit=None if limit is None else Money(limit),
        low_balance_alert=None if alert is None else Money(alert),
    )
    return Response(WalletSerializer(account).data)


@extend_schema(request=RefundIn, responses={201: PostingSerializer}, parameters=[IDEMPOTENCY_HEADER])
@api_view(["POST"])
def refunds(request: Request) -> Response:
    """Give part of a wallet back (to refunds due, paid out by the office)."""
    _require(request, OFFICE_ROLES)
    data = RefundIn(data=request.data)
    data.is_valid(raise_exception=True)
    key = check_key(request.headers.get("Idempotency-Key"))

    def operation():
        posting = services.wallet_refund(
            student=_student(request, data.validated_data["student"]),
            amount=Money(data.validated_data["amount_fen"]),
            actor=request.user,
            reason=data.validated_data["reason"],
            idempotency_key=f"api:{key}",
        )
        return status.HTTP_201_CREATED, _posting_body(posting)

    return idempotent_response(request, scope="ledger.refund", operation=operation)


@extend_schema(request=ClosureIn, responses={201: PostingSerializer}, parameters=[IDEMPOTENCY_HEADER])
@api_view(["POST"])
def closures(request: Request) -> Response:
    """A student leaves: refund the balance (to refunds due) and close the wallet."""
    _require(request, OFFICE_ROLES)
    data = ClosureIn(data=request.data)
    data.is_valid(raise_exception=True)
    key = check_key(request.headers.get("Idempotency-Key"))

    def operation():
        posting = services.account_close(
            student=_student(request, data.validated_data["student"]),
            actor=request.user,
            idempotency_key=f"api:{key}",
            reason=data.validated_data["reason"],
        )
        return status.HTTP_201_CREATED, (_posting_body(posting) if posting else {"refund_fen": 0})

    return idempotent_response(request, scope="ledger.closure", operation=operation)


@extend_schema(
    parameters=[OpenApiParameter("start", date), OpenApiParameter("end", date)],
    responses=ReportRowOut(many=True),
)
@api_view(["GET"])
def report(request: Request) -> Response:
    _require(request, FINANCE_ROLES)
    today = timezone.localdate()
    try:
        start = date.fromisoformat(request.query_params.get("start") or today.replace(day=1).isoformat())
        end = date.fromisoformat(request.query_params.get("end") or today.isoformat())
    except ValueError:
        start, end = today.replace(day=1), today
    result = reports.campus_report(actor=request.user, start=start, end=end)
    rows = [dict(ReportRowOut(r).data, campus=str(r.campus)) for r in result.rows]
    return Response(rows)
