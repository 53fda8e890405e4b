"""Procurement pages: thin views over services and selectors, phone- and tablet-friendly for
storekeepers and supplier staff. Domain errors become a message on the same page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError, ValidationFailed
from canteen.core.i18n import tr
from canteen.core.money import Money
from canteen.core.pagination import paginate
from canteen.core.params import date_param
from canteen.org.choices import Role
from canteen.org.models import Campus

from . import selectors, services
from .choices import CheckResult, ItemCategory, LicenceKind, MealKind, OrderStatus, Storage
from .models import Batch, Item, Licence, StockCount, Supplier

CAMPUS_ROLES = {Role.CANTEEN_MANAGER, Role.STOREKEEPER}
DISTRICT_ROLES = {Role.DISTRICT_REGULATOR, Role.CITY_REGULATOR}


def _day(value: str | None, default: date) -> date:
    # A day outside 2000–2100 (e.g. 0001-01-01, where "the day before" overflows) is a 400.
    return date_param(value, default=default)


def _fail(request: HttpRequest, exc: DomainError) -> None:
    messages.error(request, exc.full_message(request.LANGUAGE_CODE))


def domain_action(back: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """POST handlers: a DomainError becomes an error message and a redirect to the page `back`
    (a URL name taking the view's keyword arguments)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except DomainError as exc:
                _fail(request, exc)
                return redirect(back, **kwargs)

        return wrapper

    return decorate


def _own_campus(request: HttpRequest) -> Campus | None:
    return request.user.campus if request.user.campus_id else None


@login_required
def index(request: HttpRequest) -> HttpResponse:
    role = request.user.role
    if role == Role.SUPPLIER_USER:
        return redirect("procurement:portal")
    if role in DISTRICT_ROLES:
        return redirect("procurement:demand")
    if role == Role.STOREKEEPER:
        return redirect("procurement:deliveries")
    return redirect("procurement:orders")


# ---------------------------------------------------------------- catalogue and suppliers


@login_required
def catalogue(request: HttpRequest) -> HttpResponse:
    on = _day(request.GET.get("on"), timezone.localdate())
    category = request.GET.get("category", "")
    q = request.GET.get("q", "").strip()[:40]
    rows = selectors.catalogue(actor=request.user, on=on, category=category, q=q)
    return render(
        request,
        "procurement/catalogue.html",
        {
            "rows": rows,
            "on": on,
            "category": category,
            "q": q,
            "categories": ItemCategory.choices,
            "storages": Storage.choices,
            "can_edit": request.user.role == Role.DISTRICT_REGULATOR,
        },
    )


@login_required
def item_detail(request: HttpRequest, item_id: str) -> HttpResponse:
    item = Item.objects.visible_to(request.user).filter(pk=item_id).distinct().first()
    if item is None:
        raise Http404
    suppliers = selectors.supplier_list(actor=request.user, district=item.district)
    return render(
        request,
        "procurement/item_detail.html",
        {
            "item": item,
            "history": selectors.price_history(actor=request.user, item=item),
            "suppliers": suppliers,
            "can_set": request.user.is_superuser or request.user.role == Role.DISTRICT_REGULATOR,
            "tomorrow": timezone.localdate() + timedelta(days=1),
        },
    )


@login_required
@require_POST
@domain_action("procurement:item")
def price_set(request: HttpRequest, item_id: str) -> HttpResponse:
    item = Item.objects.visible_to(request.user).filter(pk=item_id).distinct().first()
    supplier = Supplier.objects.visible_to(request.user).filter(pk=request.POST.get("supplier")).first()
    if item is None or supplier is None:
        raise Http404
    try:
        price = Money.from_yuan(request.POST.get("price", ""))
    except (ValueError, TypeError):
        messages.error(request, tr("价格格式有误", "Not a valid price"))
        return redirect("procurement:item", item_id=item.pk)
    services.framework_price_set(
        actor=request.user,
        supplier=supplier,
        item=item,
        price=price,
        valid_from=_day(request.POST.get("valid_from"), timezone.localdate()),
        note=request.POST.get("note", "")[:200],
    )
    messages.success(request, tr("已生成新的价格版本", "A new price version was recorded"))
    return redirect("procurement:item", item_id=item.pk)


@login_required
def suppliers(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(
        request,
        "procurement/suppliers.html",
        {
            "standings": selectors.supplier_standings(actor=request.user, on=today),
            "alerts": selectors.licence_alerts(actor=request.user, on=today),
            "today": today,
            "kinds": LicenceKind.choices,
            "can_edit": request.user.role == Role.DISTRICT_REGULATOR,
        },
    )


def _district_of(request: HttpRequest) -> Any:
    user = request.user
    if user.role != Role.DISTRICT_REGULATOR or not user.district_id:
        raise Http404
    return user.district


@login_required
@require_POST
@domain_action("procurement:suppliers")
def supplier_new(request: HttpRequest) -> HttpResponse:
    supplier = services.supplier_create(
        actor=request.user,
        district=_district_of(request),
        name=request.POST.get("name", ""),
        uscc=request.POST.get("uscc", ""),
        contact_name=request.POST.get("contact_name", "")[:40],
        contact_phone=request.POST.get("contact_phone", "")[:20],
        address=request.POST.get("address", "")[:200],
    )
    messages.success(
        request, tr(f"已登记 {supplier.name}，请补充证照后准入", f"{supplier.name} added; add licences, then approve")
    )
    return redirect("procurement:suppliers")


@login_required
@require_POST
@domain_action("procurement:suppliers")
def supplier_approval(request: HttpRequest, supplier_id: str) -> HttpResponse:
    supplier = Supplier.objects.visible_to(request.user).filter(pk=supplier_id).first()
    if supplier is None:
        raise Http404
    approved = request.POST.get("approved") == "1"
    services.supplier_set_approval(
        actor=request.user, supplier=supplier, approved=approved, note=request.POST.get("note", "")
    )
    messages.success(request, tr("已更新准入状态", "Approval updated"))
    return redirect("procurement:suppliers")


@login_required
@require_POST
def licence_new(request: HttpRequest, supplier_id: str) -> HttpResponse:
    """District staff or the supplier's own staff record a licence (a renewal supersedes)."""
    supplier = Supplier.objects.visible_to(request.user).filter(pk=supplier_id).distinct().first()
    back = "procurement:portal" if request.user.role == Role.SUPPLIER_USER else "procurement:suppliers"
    if supplier is None:
        raise Http404
    try:
        expires = request.POST.get("expires_on") or None
        issued = request.POST.get("issued_on") or None
        services.licence_add(
            actor=request.user,
            supplier=supplier,
            kind=request.POST.get("kind", ""),
            number=request.POST.get("number", ""),
            issued_on=date.fromisoformat(issued) if issued else None,
            expires_on=date.fromisoformat(expires) if expires else None,
            issuer=request.POST.get("issuer", "")[:80],
            scan=request.FILES.get("scan"),
        )
    except ValueError:
        messages.error(request, tr("日期格式有误", "Not a valid date"))
    except DomainError as exc:
        _fail(request, exc)
    else:
        messages.success(request, tr("证照已登记", "Licence recorded"))
    return redirect(back)


@login_required
@require_POST
@domain_action("procurement:catalogue")
def item_new(request: HttpRequest) -> HttpResponse:
    shelf = request.POST.get("shelf_life_days", "").strip()
    tests = [t for t in request.POST.getlist("quick_tests") if t]
    item = services.item_create(
        actor=request.user,
        district=_district_of(request),
        code=request.POST.get("code", ""),
        name=request.POST.get("name", ""),
        category=request.POST.get("category", ""),
        unit=request.POST.get("unit", ""),
        spec=request.POST.get("spec", "")[:60],
        shelf_life_days=int(shelf) if shelf.isdigit() else None,
        storage=request.POST.get("storage", "ambient"),
        food_code=request.POST.get("food_code", "")[:16],
        quick_tests=tests,
    )
    messages.success(request, tr(f"已加入目录：{item.name}，请设置集采价", f"Added {item.name}; now set its price"))
    return redirect("procurement:item", item_id=item.pk)


# ---------------------------------------------------------------- orders


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    qs = selectors.order_list(actor=request.user, status=status)
    page = paginate(request, qs)
    return render(
        request,
        "procurement/orders.html",
        {
            "page": page,
            "status": status,
            "statuses": OrderStatus.choices,
            "can_order": request.user.role in CAMPUS_ROLES or request.user.is_superuser,
        },
    )


@login_required
def order_new(request: HttpRequest) -> HttpResponse:
    campus = _own_campus(request)
    if campus is None:
        messages.error(request, tr("只有校区食堂账号可以下单", "Only campus canteen accounts can order"))
        return redirect("procurement:orders")
    day = _day(request.GET.get("day") or request.POST.get("day"), timezone.localdate() + timedelta(days=1))
    all_suppliers = [s for s, st in selectors.supplier_standings(actor=request.user, on=day) if st.can_trade]
    supplier_id = request.GET.get("supplier") or request.POST.get("supplier")
    supplier = next((s for s in all_suppliers if str(s.pk) == supplier_id), None)
    rows = selectors.catalogue(actor=request.user, on=day, supplier=supplier) if supplier else []
    if request.method == "POST" and supplier is not None:
        lines = []
        for row in rows:
            raw = request.POST.get(f"qty-{row['item'].pk}", "").strip()
            if raw and raw not in ("0", "0.0"):
                lines.append({"item": row["item"], "quantity": raw})
        try:
            order = services.order_create(
                actor=request.user,
                campus=campus,
                supplier=supplier,
                delivery_day=day,
                meal_kind=request.POST.get("meal_kind", MealKind.LUNCH),
                lines=lines,
                note=request.POST.get("note", "")[:200],
            )
            if request.POST.get("submit"):
                services.order_submit(actor=request.user, order=order)
        except DomainError as exc:
            _fail(request, exc)
        else:
            messages.success(request, tr(f"订单 {order.number} 已保存", f"Order {order.number} saved"))
            return redirect("procurement:order", order_id=order.pk)
    suggested = selectors.order_suggestions(campus=campus, day=day) if supplier else {}
    for row in rows:
        row["suggested"] = need = suggested.get(str(row["item"].pk))
        # "12.5", not "12.500" or "1.25E+1", in the input box.
        row["prefill"] = format(need["quantity"].normalize(), "f") if need and need["quantity"] else ""
    return render(
        request,
        "procurement/order_new.html",
        {
            "campus": campus,
            "day": day,
            "suppliers": all_suppliers,
            "supplier": supplier,
            "rows": rows,
            "has_suggestions": bool(suggested),
            "meal_kinds": MealKind.choices,
        },
    )


@login_required
def order_detail(request: HttpRequest, order_id: str) -> HttpResponse:
    order = selectors.order_get(actor=request.user, order_id=order_id)
    if order is None:
        raise Http404
    user = request.user
    role = user.role
    allowed = services.ORDER_MOVES.get(order.status, frozenset())
    actions = []
    is_member = role == Role.SUPPLIER_USER
    if not is_member:
        if OrderStatus.SUBMITTED in allowed and role in CAMPUS_ROLES | {Role.SCHOOL_ADMIN}:
            actions.append(("submit", tr("提交审批", "Submit for approval"), "primary"))
        if OrderStatus.APPROVED in allowed and role in {Role.SCHOOL_ADMIN, Role.DISTRICT_REGULATOR}:
            actions.append(("approve", tr("审批通过", "Approve"), "primary"))
            actions.append(("return", tr("退回修改", "Return for changes"), ""))
        if OrderStatus.SENT in allowed and role in {Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER, Role.DISTRICT_REGULATOR}:
            actions.append(("send", tr("发送给供应商", "Send to supplier"), "primary"))
        if OrderStatus.CLOSED in allowed and role in CAMPUS_ROLES | {Role.SCHOOL_ADMIN}:
            actions.append(("close", tr("关闭订单", "Close order"), ""))
        if OrderStatus.CANCELLED in allowed:
            actions.append(("cancel", tr("取消订单", "Cancel order"), ""))
    else:
        if OrderStatus.CONFIRMED in allowed:
            actions.append(("confirm", tr("确认接单", "Confirm"), "primary"))
            actions.append(("cancel", tr("拒绝接单", "Decline"), ""))
    return render(
        request,
        "procurement/order_detail.html",
        {
            "order": order,
            "lines": order.lines.select_related("item"),
            "history": order.history.all(),
            "deliveries": order.deliveries.all(),
            "actions": actions,
            "can_deliver": is_member and order.status in (OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_DELIVERED),
        },
    )


ORDER_ACTIONS = {
    "submit": lambda r, o: services.order_submit(actor=r.user, order=o),
    "approve": lambda r, o: services.order_approve(actor=r.user, order=o),
    "return": lambda r, o: services.order_return(actor=r.user, order=o, reason=r.POST.get("reason", "")),
    "send": lambda r, o: services.order_send(actor=r.user, order=o),
    "confirm": lambda r, o: services.order_confirm(actor=r.user, order=o, note=r.POST.get("reason", "")),
    "cancel": lambda r, o: services.order_cancel(actor=r.user, order=o, reason=r.POST.get("reason", "")),
    "close": lambda r, o: services.order_close(actor=r.user, order=o, note=r.POST.get("reason", "")),
}


@login_required
@require_POST
@domain_action("procurement:order")
def order_action(request: HttpRequest, order_id: str) -> HttpResponse:
    order = selectors.order_get(actor=request.user, order_id=order_id)
    action = ORDER_ACTIONS.get(request.POST.get("action", ""))
    if order is None or action is None:
        raise Http404
    action(request, order)
    messages.success(request, tr("已完成", "Done"))
    return redirect("procurement:order", order_id=order.pk)


# ---------------------------------------------------------------- supplier portal


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    supplier = selectors.supplier_of_user(user=request.user)
    day = _day(request.GET.get("day"), timezone.localdate() + timedelta(days=1))
    qs = selectors.order_list(actor=request.user)
    standing = services.supplier_standing(supplier=supplier) if supplier else None
    return render(
        request,
        "procurement/portal.html",
        {
            "supplier": supplier,
            "standing": standing,
            "to_confirm": qs.filter(status=OrderStatus.SENT),
            "to_deliver": qs.filter(status__in=[OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_DELIVERED]),
            "picks": selectors.combined_demand_by_campus(actor=request.user, day=day, supplier=supplier)
            if supplier
            else [],
            "day": day,
            "recent": selectors.delivery_list(actor=request.user)[:20],
            "kinds": LicenceKind.choices,
        },
    )


@login_required
def deliver(request: HttpRequest, order_id: str) -> HttpResponse:
    order = selectors.order_get(actor=request.user, order_id=order_id)
    if order is None or request.user.role not in (Role.SUPPLIER_USER,) and not request.user.is_superuser:
        raise Http404
    lines = list(order.lines.select_related("item"))
    today = timezone.localdate()
    if request.method == "POST":
        payload = []
        for line in lines:
            qty = request.POST.get(f"qty-{line.pk}", "").strip()
            if not qty or qty == "0":
                continue
            tests = []
            for test in line.item.quick_tests:
                value = request.POST.get(f"test-{line.pk}-{test}", "").strip()
                if value:
                    tests.append(
                        {
                            "test": test,
                            "value": value,
                            "unit": "%",
                            "passed": request.POST.get(f"pass-{line.pk}-{test}") == "1",
                        }
                    )
            payload.append(
                {
                    "order_line": line,
                    "quantity": qty,
                    "batch_number": request.POST.get(f"batch-{line.pk}", ""),
                    "producer": request.POST.get(f"producer-{line.pk}", ""),
                    "producer_licence": request.POST.get(f"licence-{line.pk}", ""),
                    "origin": request.POST.get(f"origin-{line.pk}", ""),
                    "production_date": request.POST.get(f"produced-{line.pk}", ""),
                    "shelf_life_days": request.POST.get(f"shelf-{line.pk}") or line.item.shelf_life_days,
                    "quick_tests": tests,
                    "qc_report": request.FILES.get(f"qc-{line.pk}"),
                }
            )
        try:
            delivery = services.delivery_dispatch(
                actor=request.user,
                order=order,
                lines=payload,
                vehicle_plate=request.POST.get("vehicle_plate", ""),
                driver_name=request.POST.get("driver_name", ""),
                driver_phone=request.POST.get("driver_phone", ""),
            )
        except DomainError as exc:
            _fail(request, exc)
        else:
            messages.success(request, tr(f"送货单 {delivery.number} 已发车", f"Delivery {delivery.number} dispatched"))
            return redirect("procurement:portal")
    remaining = {line.pk: line.quantity - line.accepted_quantity for line in lines}
    return render(
        request,
        "procurement/deliver.html",
        {"order": order, "lines": [(line, remaining[line.pk]) for line in lines], "today": today},
    )


# ---------------------------------------------------------------- deliveries and acceptance


@login_required
def deliveries(request: HttpRequest) -> HttpResponse:
    qs = selectors.delivery_list(actor=request.user)
    waiting = qs.filter(status__in=["dispatched", "arrived"])
    done = paginate(request, qs.exclude(status__in=["dispatched", "arrived"]))
    return render(request, "procurement/deliveries.html", {"waiting": waiting, "page": done})


@login_required
def accept(request: HttpRequest, delivery_id: str) -> HttpResponse:
    delivery = selectors.delivery_get(actor=request.user, delivery_id=delivery_id)
    if delivery is None:
        raise Http404
    lines = list(delivery.lines.select_related("item", "batch"))
    if request.method == "POST":
        decisions = []
        for line in lines:
            tests = None
            if line.item.quick_tests:
                tests = []
                for test in line.item.quick_tests:
                    value = request.POST.get(f"test-{line.pk}-{test}", "").strip()
                    if value:
                        tests.append(
                            {
                                "test": test,
                                "value": value,
                                "unit": "%",
                                "passed": request.POST.get(f"pass-{line.pk}-{test}") == "1",
                            }
                        )
                tests = tests or None
            decisions.append(
                {
                    "line": line,
                    "result": request.POST.get(f"result-{line.pk}", CheckResult.ACCEPT),
                    "accepted_quantity": request.POST.get(f"accepted-{line.pk}") or None,
                    "reason": request.POST.get(f"reason-{line.pk}", ""),
                    "temperature_c": request.POST.get(f"temp-{line.pk}") or None,
                    "quick_tests": tests,
                }
            )
        try:
            # Arrival (with the truck's temperature) is a fact of its own: kept even if a line fails.
            if delivery.status == "dispatched":
                services.delivery_arrive(
                    actor=request.user, delivery=delivery, temperature_c=request.POST.get("temperature") or None
                )
            services.delivery_accept(
                actor=request.user,
                delivery=delivery,
                decisions=decisions,
                coldchain_reason=request.POST.get("coldchain_reason", ""),
                coldchain_photo=request.FILES.get("coldchain_photo"),
            )
        except DomainError as exc:
            _fail(request, exc)
        else:
            delivery.refresh_from_db()
            messages.success(
                request, tr(f"验收完成：{delivery.get_status_display()}", f"Checked: {delivery.get_status_display()}")
            )
            return redirect("procurement:deliveries")
    return render(
        request,
        "procurement/accept.html",
        {
            "delivery": delivery,
            "lines": lines,
            "results": CheckResult.choices,
            "decided": delivery.status not in ("dispatched", "arrived"),
            "can_check": request.user.is_superuser or request.user.role in CAMPUS_ROLES,
            "history": delivery.history.all(),
            "coldchain_must_reject": delivery.coldchain_minutes > services.coldchain_reject_minutes(),
        },
    )


@login_required
@require_POST
@domain_action("procurement:accept")
def invoice(request: HttpRequest, delivery_id: str) -> HttpResponse:
    delivery = selectors.delivery_get(actor=request.user, delivery_id=delivery_id)
    if delivery is None:
        raise Http404
    amount_text = (request.POST.get("amount") or "").strip()
    try:
        amount = Money.from_yuan(amount_text) if amount_text else None
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("发票金额格式不正确", "Not a valid invoice amount") from exc
    delivery = services.delivery_record_invoice(
        actor=request.user, delivery=delivery, reference=request.POST.get("reference", ""), amount=amount
    )
    if delivery.invoice_match.get("differences"):
        messages.warning(
            request, tr("发票已登记，三单核对有差异", "Invoice recorded; the three-way match lists differences")
        )
    else:
        messages.success(
            request, tr("发票已登记，与订单和验收一致", "Invoice recorded; it matches the order and receipt")
        )
    return redirect("procurement:accept", delivery_id=delivery.pk)


# ---------------------------------------------------------------- stock


@login_required
def stock(request: HttpRequest) -> HttpResponse:
    campus = _own_campus(request)
    today = timezone.localdate()
    if request.method == "POST" and campus is not None:
        item = Item.objects.filter(pk=request.POST.get("item"), district_id=campus.school.district_id).first()
        try:
            if item is None:
                raise Http404
            moves = services.stock_issue(
                actor=request.user,
                campus=campus,
                item=item,
                quantity=request.POST.get("quantity", ""),
                day=_day(request.POST.get("day"), today),
                meal_kind=request.POST.get("meal_kind", MealKind.LUNCH),
                dish_name=request.POST.get("dish_name", "")[:80],
            )
        except DomainError as exc:
            _fail(request, exc)
        else:
            batches = "、".join(f"{m.batch.batch_number} ×{-m.quantity}" for m in moves)
            messages.success(
                request, tr(f"已出库（先到期先出）：{batches}", f"Issued (first-expiring first): {batches}")
            )
        return redirect("procurement:stock")
    rows = selectors.stock_on_hand(actor=request.user, campus=campus, on=today)
    return render(
        request,
        "procurement/stock.html",
        {
            "rows": rows,
            "campus": campus,
            "today": today,
            "meal_kinds": MealKind.choices,
            "movements": selectors.movements(actor=request.user, campus=campus)[:30],
            "open_count": StockCount.objects.visible_to(request.user).filter(status="open").first(),
            "can_issue": campus is not None and request.user.role in CAMPUS_ROLES,
        },
    )


@login_required
@require_POST
@domain_action("procurement:stock")
def count_start(request: HttpRequest) -> HttpResponse:
    campus = _own_campus(request)
    if campus is None:
        raise Http404
    count = services.stock_count_start(actor=request.user, campus=campus)
    return redirect("procurement:count", count_id=count.pk)


@login_required
def count_detail(request: HttpRequest, count_id: str) -> HttpResponse:
    count = StockCount.objects.visible_to(request.user).filter(pk=count_id).first()
    if count is None:
        raise Http404
    if request.method == "POST":
        try:
            for line in count.lines.select_related("batch"):
                raw = request.POST.get(f"counted-{line.pk}", "").strip()
                if raw:
                    services.stock_count_record(
                        actor=request.user,
                        count=count,
                        batch=line.batch,
                        counted_quantity=raw,
                        reason=request.POST.get(f"reason-{line.pk}", ""),
                    )
            if request.POST.get("close"):
                moves = services.stock_count_close(actor=request.user, count=count)
                messages.success(
                    request, tr(f"盘点完成，调整 {len(moves)} 笔", f"Count closed, {len(moves)} adjustments")
                )
                return redirect("procurement:stock")
        except DomainError as exc:
            _fail(request, exc)
        return redirect("procurement:count", count_id=count.pk)
    return render(
        request,
        "procurement/count.html",
        {"count": count, "lines": count.lines.select_related("batch", "batch__item")},
    )


# ---------------------------------------------------------------- district views


@login_required
def demand(request: HttpRequest) -> HttpResponse:
    day = _day(request.GET.get("day"), timezone.localdate() + timedelta(days=1))
    rows = selectors.combined_demand(actor=request.user, day=day)
    return render(
        request,
        "procurement/demand.html",
        {
            "rows": rows,
            "day": day,
            "prev": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "total_fen": sum(r["amount_fen"] for r in rows),
            "alerts": selectors.licence_alerts(actor=request.user),
        },
    )


@login_required
def batch_page(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = Batch.objects.visible_to(request.user).filter(pk=batch_id).first()
    if batch is None:
        raise Http404
    return render(
        request,
        "procurement/batch.html",
        {"b": selectors.batch_detail(batch_id=batch.pk), "issues": selectors.issues_of_batch(batch=batch)},
    )


def _serve(field: Any, content_type: str, filename: str) -> HttpResponse:
    """Serve a stored upload (already checked to be a PDF or image) inline, never sniffed as HTML."""
    if not field:
        raise Http404
    response = FileResponse(field.open("rb"), content_type=content_type or "application/octet-stream")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response


@login_required
def qc_report(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = Batch.objects.visible_to(request.user).filter(pk=batch_id).first()
    if batch is None:
        raise Http404
    ext = batch.qc_report.name.rsplit(".", 1)[-1] if batch.qc_report else "pdf"
    return _serve(batch.qc_report, batch.qc_report_content_type, f"qc-{batch.batch_number or batch.pk}.{ext}")


@login_required
def licence_scan(request: HttpRequest, licence_id: str) -> HttpResponse:
    licence = Licence.objects.visible_to(request.user).filter(pk=licence_id).distinct().first()
    if licence is None:
        raise Http404
    ext = licence.scan.name.rsplit(".", 1)[-1] if licence.scan else "pdf"
    return _serve(licence.scan, licence.scan_content_type, f"licence-{licence.pk}.{ext}")
