"""Procurement API: thin views over services and selectors. Writes that create orders,
deliveries, acceptances or stock issues require an Idempotency-Key."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from canteen.core.api import idempotent_response
from canteen.core.errors import NotFound, ValidationFailed
from canteen.core.schema import OBJECT_LIST
from canteen.org.models import Campus

from .. import selectors, services
from ..models import Batch, Item, PurchaseOrder, Supplier
from . import serializers as s

DAY = OpenApiParameter("day", OpenApiTypes.DATE, description="YYYY-MM-DD")


def _day(request: Request, name: str = "day", default: date | None = None) -> date:
    raw = request.query_params.get(name)
    if not raw:
        return default or timezone.localdate()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(details={name: raw}) from None


def _s(value: Any) -> Any:
    return None if value is None else str(value)


def order_body(order: PurchaseOrder) -> dict[str, Any]:
    return {
        "id": str(order.pk),
        "number": order.number,
        "campus_id": str(order.campus_id),
        "supplier_id": str(order.supplier_id),
        "supplier": order.supplier.name,
        "delivery_day": str(order.delivery_day),
        "meal_kind": order.meal_kind,
        "status": order.status,
        "total_fen": order.total_fen,
        "lines": [
            {
                "id": str(line.pk),
                "item_id": str(line.item_id),
                "item": line.item.name,
                "quantity": str(line.quantity),
                "unit": line.unit,
                "price_fen": line.price_fen,
                "amount_fen": line.amount_fen,
                "accepted_quantity": str(line.accepted_quantity),
            }
            for line in order.lines.select_related("item")
        ],
        "history": [
            {"from": h.from_status, "to": h.to_status, "by": h.actor_label, "at": h.at.isoformat(), "note": h.note}
            for h in order.history.all()
        ],
    }


def delivery_body(delivery: Any) -> dict[str, Any]:
    return {
        "id": str(delivery.pk),
        "number": delivery.number,
        "order_id": str(delivery.order_id),
        "status": delivery.status,
        "accepted_fen": delivery.accepted_fen,
        "lines": [
            {
                "id": str(line.pk),
                "item": line.item.name,
                "quantity": str(line.quantity),
                "batch_id": str(line.batch.pk),
                "batch_number": line.batch.batch_number,
                "batch_status": line.batch.status,
                "accepted_quantity": str(line.batch.accepted_quantity),
            }
            for line in delivery.lines.select_related("item", "batch")
        ],
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class SupplierList(APIView):
    @extend_schema(operation_id="procurement_suppliers_list", responses={200: OBJECT_LIST})
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "id": str(sup.pk),
                    "name": sup.name,
                    "uscc": sup.uscc,
                    "can_trade": st.can_trade,
                    "blocked_code": st.code,
                    "expired": [str(lic) for lic in st.expired],
                    "expiring": [f"{lic} ({lic.expires_on})" for lic in st.expiring],
                }
                for sup, st in selectors.supplier_standings(actor=request.user)
            ]
        )


class LicenceAlerts(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        alerts = selectors.licence_alerts(actor=request.user)
        return Response(
            {
                state: [
                    {
                        "supplier": lic.supplier.name,
                        "kind": lic.kind,
                        "number": lic.number,
                        "expires_on": str(lic.expires_on),
                    }
                    for lic in rows
                ]
                for state, rows in alerts.items()
            }
        )


class Catalogue(APIView):
    @extend_schema(parameters=[OpenApiParameter("on", OpenApiTypes.DATE)], responses={200: OBJECT_LIST})
    def get(self, request: Request) -> Response:
        rows = selectors.catalogue(
            actor=request.user, on=_day(request, "on"), category=request.query_params.get("category", "")
        )
        return Response(
            [
                {
                    "id": str(r["item"].pk),
                    "code": r["item"].code,
                    "name": r["item"].name,
                    "category": r["item"].category,
                    "unit": r["item"].unit,
                    "spec": r["item"].spec,
                    "food_code": r["item"].food_code,
                    "shelf_life_days": r["item"].shelf_life_days,
                    "offers": [
                        {
                            "supplier_id": str(p.supplier_id),
                            "supplier": p.supplier.name,
                            "price_fen": p.price_fen,
                            "version": p.version,
                            "valid_from": str(p.valid_from),
                        }
                        for p in r["offers"]
                    ],
                }
                for r in rows
            ]
        )


class OrderList(APIView):
    @extend_schema(operation_id="procurement_orders_list", responses={200: OBJECT_LIST})
    def get(self, request: Request) -> Response:
        qs = selectors.order_list(actor=request.user, status=request.query_params.get("status", ""))[:200]
        return Response(
            [
                {
                    "id": str(o.pk),
                    "number": o.number,
                    "campus": str(o.campus),
                    "supplier": o.supplier.name,
                    "delivery_day": str(o.delivery_day),
                    "meal_kind": o.meal_kind,
                    "status": o.status,
                    "total_fen": o.total_fen,
                }
                for o in qs
            ]
        )

    @extend_schema(request=s.OrderIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = s.validated(s.OrderIn, request.data)
        user = request.user

        def operation() -> tuple[int, Any]:
            campus_id = data.get("campus") or user.campus_id
            campus = Campus.objects.visible_to(user).filter(pk=campus_id).first()
            supplier = Supplier.objects.visible_to(user).filter(pk=data["supplier"]).first()
            if campus is None or supplier is None:
                raise NotFound()
            order = services.order_create(
                actor=user,
                campus=campus,
                supplier=supplier,
                delivery_day=data["delivery_day"],
                meal_kind=data["meal_kind"],
                lines=[{"item": line["item"], "quantity": line["quantity"]} for line in data["lines"]],
                note=data["note"],
            )
            if data["submit"]:
                services.order_submit(actor=user, order=order)
            order.refresh_from_db()
            return 201, order_body(order)

        return idempotent_response(request, scope=f"procurement.order_create:{user.pk}", operation=operation)


def _order(request: Request, order_id: Any) -> PurchaseOrder:
    order = selectors.order_get(actor=request.user, order_id=order_id)
    if order is None:
        raise NotFound()
    return order


class OrderDetail(APIView):
    @extend_schema(operation_id="procurement_order_detail", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, order_id: Any) -> Response:
        return Response(order_body(_order(request, order_id)))


class OrderTransition(APIView):
    """One endpoint for the order's moves: submit, approve, return, send, confirm, cancel, close.
    A move that is not allowed answers 409 invalid_transition; repeating a done move does too."""

    @extend_schema(request=s.TransitionIn, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, order_id: Any) -> Response:
        data = s.validated(s.TransitionIn, request.data)
        order = _order(request, order_id)
        user, reason = request.user, data["reason"]
        action = data["action"]
        if action == "submit":
            services.order_submit(actor=user, order=order)
        elif action == "approve":
            services.order_approve(actor=user, order=order)
        elif action == "return":
            services.order_return(actor=user, order=order, reason=reason)
        elif action == "send":
            services.order_send(actor=user, order=order)
        elif action == "confirm":
            services.order_confirm(actor=user, order=order, note=reason)
        elif action == "cancel":
            services.order_cancel(actor=user, order=order, reason=reason)
        else:
            services.order_close(actor=user, order=order, note=reason)
        order.refresh_from_db()
        return Response(order_body(order))


class OrderDeliveries(APIView):
    """The supplier records a delivery against a confirmed order, one batch per line. QC reports
    are uploaded per batch afterwards (POST batches/<id>/qc-report/)."""

    @extend_schema(request=s.DeliveryIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, order_id: Any) -> Response:
        data = s.validated(s.DeliveryIn, request.data)
        user = request.user

        def operation() -> tuple[int, Any]:
            order = _order(request, order_id)
            delivery = services.delivery_dispatch(
                actor=user,
                order=order,
                lines=[dict(line) for line in data["lines"]],
                vehicle_plate=data["vehicle_plate"],
                driver_name=data["driver_name"],
                driver_phone=data["driver_phone"],
                qc_reports_follow=True,  # JSON carries no file: the reports are uploaded per batch next
            )
            return 201, delivery_body(delivery)

        return idempotent_response(request, scope=f"procurement.delivery:{user.pk}", operation=operation)


class DeliveryList(APIView):
    @extend_schema(operation_id="procurement_deliveries_list", responses={200: OBJECT_LIST})
    def get(self, request: Request) -> Response:
        qs = selectors.delivery_list(actor=request.user, status=request.query_params.get("status", ""))[:200]
        return Response([delivery_body(d) for d in qs])


class DeliveryAccept(APIView):
    """进货查验: a decision for every line (accept | partial with accepted_quantity and reason |
    reject with reason)."""

    @extend_schema(request=s.AcceptIn, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, delivery_id: Any) -> Response:
        data = s.validated(s.AcceptIn, request.data)
        user = request.user

        def operation() -> tuple[int, Any]:
            delivery = selectors.delivery_get(actor=user, delivery_id=delivery_id)
            if delivery is None:
                raise NotFound()
            if delivery.status == "dispatched" and data.get("temperature_c") is not None:
                services.delivery_arrive(actor=user, delivery=delivery, temperature_c=data["temperature_c"])
            decisions = [
                {
                    **d,
                    "line": str(d["line"]),
                    "quick_tests": [dict(t) for t in d["quick_tests"]] if d["quick_tests"] else None,
                }
                for d in data["decisions"]
            ]
            services.delivery_accept(actor=user, delivery=delivery, decisions=decisions)
            delivery.refresh_from_db()
            return 200, delivery_body(delivery)

        return idempotent_response(request, scope=f"procurement.accept:{user.pk}", operation=operation)


class BatchQcReport(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": s.UploadIn}, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, batch_id: Any) -> Response:
        batch = Batch.objects.visible_to(request.user).filter(pk=batch_id).first()
        if batch is None:
            raise NotFound()
        upload = request.FILES.get("file")
        batch = services.batch_attach_qc_report(actor=request.user, batch=batch, upload=upload)
        return Response(
            {"batch_id": str(batch.pk), "sha256": batch.qc_report_sha256, "content_type": batch.qc_report_content_type}
        )


class BatchDetail(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, batch_id: Any) -> Response:
        if not Batch.objects.visible_to(request.user).filter(pk=batch_id).exists():
            raise NotFound()
        detail = selectors.batch_detail(batch_id=batch_id)
        detail["issues"] = selectors.issues_of_batch(batch=batch_id)
        return Response(_jsonable(detail))


class Demand(APIView):
    @extend_schema(parameters=[DAY], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        day = _day(request)
        return Response(
            {"day": str(day), "suppliers": _jsonable(selectors.combined_demand(actor=request.user, day=day))}
        )


class Stock(APIView):
    @extend_schema(responses={200: OBJECT_LIST})
    def get(self, request: Request) -> Response:
        rows = selectors.stock_on_hand(actor=request.user)
        return Response(
            [
                {
                    "campus_id": str(r["campus"].pk),
                    "item_id": str(r["item"].pk),
                    "item": r["item"].name,
                    "unit": r["item"].unit,
                    "on_hand": str(r["on_hand"]),
                    "expired": str(r["expired"]),
                    "batches": [
                        {
                            "id": str(b.pk),
                            "batch_number": b.batch_number,
                            "on_hand": str(b.on_hand),
                            "expires_on": _s(b.expires_on),
                        }
                        for b in r["batches"]
                    ],
                }
                for r in rows
            ]
        )


class StockIssue(APIView):
    """Issue to the kitchen, first-expiring first; answers the batches taken."""

    @extend_schema(request=s.IssueIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = s.validated(s.IssueIn, request.data)
        user = request.user

        def operation() -> tuple[int, Any]:
            campus = user.campus if user.campus_id else None
            item = Item.objects.filter(pk=data["item"]).first()
            if campus is None or item is None or item.district_id != campus.school.district_id:
                raise NotFound()
            moves = services.stock_issue(
                actor=user,
                campus=campus,
                item=item,
                quantity=data["quantity"],
                day=data["day"],
                meal_kind=data["meal_kind"],
                dish_id=data["dish_id"],
                dish_name=data["dish_name"],
            )
            return 201, {
                "reference": moves[0].reference,
                "batches": [{"batch_id": str(m.batch_id), "quantity": str(-m.quantity)} for m in moves],
            }

        return idempotent_response(request, scope=f"procurement.issue:{user.pk}", operation=operation)


class StockIssueMeal(APIView):
    """Issue a whole meal (several items, optionally per dish) all or nothing, each item FEFO."""

    @extend_schema(request=s.MealIssueIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = s.validated(s.MealIssueIn, request.data)
        user = request.user

        def operation() -> tuple[int, Any]:
            campus = user.campus if user.campus_id else None
            if campus is None:
                raise NotFound()
            items = {
                str(i.pk): i
                for i in Item.objects.filter(
                    pk__in=[line["item"] for line in data["lines"]], district_id=campus.school.district_id
                )
            }
            if len(items) != len({str(line["item"]) for line in data["lines"]}):
                raise NotFound()
            moves = services.stock_issue_many(
                actor=user,
                campus=campus,
                day=data["day"],
                meal_kind=data["meal_kind"],
                lines=[{**line, "item": items[str(line["item"])]} for line in data["lines"]],
            )
            return 201, {
                "movements": [
                    {
                        "batch_id": str(m.batch_id),
                        "item_id": str(m.item_id),
                        "quantity": str(-m.quantity),
                        "dish_name": m.dish_name,
                    }
                    for m in moves
                ]
            }

        return idempotent_response(request, scope=f"procurement.issue_meal:{user.pk}", operation=operation)
