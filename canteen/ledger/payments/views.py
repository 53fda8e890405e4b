"""Pages and endpoints of real payment providers: the guardian's payment page (with polling),
the return from the provider, and the provider's notification endpoint (raw body + headers)."""

from __future__ import annotations

import json
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from canteen.core.i18n import tr
from canteen.core.money import Money

from ..choices import TopUpOrderStatus, TradeType
from ..models import TopUpOrder
from . import alipay, registry, wechat
from .errors import ProviderUnavailable
from .notifications import alipay_notification_handle, wechat_notification_handle
from .orders import topup_order_sync, topup_payment_start


def trade_type_for(request: HttpRequest, provider: str, openid: str = "") -> str:
    """WeChat: inside WeChat with a bound openid JSAPI, on a phone browser H5, on a PC a QR code.
    Alipay: the phone website or the PC website cashier."""
    agent = request.headers.get("User-Agent", "")
    phone = any(word in agent for word in ("Mobile", "Android", "iPhone"))
    if provider == "alipay":
        return TradeType.WAP if phone else TradeType.PAGE
    if "MicroMessenger" in agent and openid:
        return TradeType.JSAPI
    return TradeType.H5 if phone else TradeType.NATIVE


def start_for_guardian(request: HttpRequest, *, child, amount: Money, provider: str) -> TopUpOrder:
    from .merchants import merchant_for
    from .oauth import openid_of

    openid = (
        openid_of(user=request.user, merchant=merchant_for(student=child, provider=provider))
        if provider == wechat.NAME
        else ""
    )
    return topup_payment_start(
        student=child,
        amount=amount,
        actor=request.user,
        provider=provider,
        trade_type=trade_type_for(request, provider, openid),
        openid=openid,
        client_ip=request.META.get("REMOTE_ADDR", ""),
    )


def _order(request: HttpRequest, out_trade_no: str) -> TopUpOrder:
    return get_object_or_404(
        TopUpOrder.objects.visible_to(request.user).select_related("student", "merchant"), out_trade_no=out_trade_no
    )


@login_required
def topup_pay(request: HttpRequest, out_trade_no: str) -> HttpResponse:
    order = _order(request, out_trade_no)
    qr_svg = ""
    if order.pay_payload.get("code_url"):
        import segno

        qr_svg = segno.make(order.pay_payload["code_url"], error="m").svg_inline(scale=5)
    h5_url = order.pay_payload.get("h5_url", "")
    if h5_url:
        from urllib.parse import quote

        back = request.build_absolute_uri(f"/ledger/pay/return/{order.out_trade_no}/")
        h5_url = f"{h5_url}&redirect_url={quote(back, safe='')}"
    return render(
        request,
        "ledger/topup_pay.html",
        {
            "order": order,
            "provider_label": registry.LABELS.get(order.provider, ("", "")),
            "qr_svg": qr_svg,
            "h5_url": h5_url,
            "jsapi": json.dumps(order.pay_payload) if order.trade_type == TradeType.JSAPI else "",
        },
    )


@login_required
def topup_status(request: HttpRequest, out_trade_no: str) -> JsonResponse:
    """Polled by the payment page: asks the provider when the notification has not come yet."""
    order = _order(request, out_trade_no)
    if order.status in (TopUpOrderStatus.CREATED, TopUpOrderStatus.FAILED):
        try:
            order = topup_order_sync(order=order, close_expired=False)
        except ProviderUnavailable:
            pass
    return JsonResponse({"status": order.status, "paid": order.status == TopUpOrderStatus.PAID})


@login_required
def topup_return(request: HttpRequest, out_trade_no: str) -> HttpResponse:
    """The payer comes back from the provider: query once, then the statement."""
    order = _order(request, out_trade_no)
    try:
        order = topup_order_sync(order=order, close_expired=False)
    except ProviderUnavailable:
        pass
    if order.status == TopUpOrderStatus.PAID:
        messages.success(request, tr(f"充值成功：{Money(order.amount_fen)}", f"Topped up {Money(order.amount_fen)}"))
        return redirect("ledger:statement", student_id=order.student_id)
    return redirect("ledger:topup-pay", out_trade_no=order.out_trade_no)


@csrf_exempt
@require_POST
def provider_notify(request: HttpRequest, provider: str, merchant_id: uuid.UUID) -> HttpResponse:
    """The provider's server-to-server notification. The raw body and headers go to the
    provider's verification untouched (WeChat Pay signs the body as sent)."""
    if not registry.is_registered(provider) or provider not in (wechat.NAME, alipay.NAME):
        raise Http404
    if len(request.body) > 64_000:
        return HttpResponse("body too large", status=413, content_type="text/plain")
    if provider == alipay.NAME:
        outcome = alipay_notification_handle(merchant_id=merchant_id, raw_body=request.body, headers=request.headers)
        status, text = alipay.acknowledge(outcome.ok)
        return HttpResponse(text, status=status, content_type="text/plain")
    outcome = wechat_notification_handle(merchant_id=merchant_id, raw_body=request.body, headers=request.headers)
    status, body = wechat.acknowledge(outcome.ok, outcome.message)
    if body is None:
        return HttpResponse(status=status)
    return JsonResponse(body, status=status)


# ---------------------------------------------------------------------------------------------
# Finance staff: reconcile a merchant's day, fix its mismatches


FINANCE_ROLES = {"city_regulator", "district_regulator", "school_admin", "canteen_manager"}


def _finance(request: HttpRequest) -> None:
    from django.core.exceptions import PermissionDenied

    if not (request.user.is_superuser or request.user.role in FINANCE_ROLES):
        raise PermissionDenied


@login_required
@require_POST
def reconcile_provider_day(request: HttpRequest) -> HttpResponse:
    from datetime import date

    from canteen.core.errors import DomainError

    from .bills import provider_reconcile_day
    from .models import Merchant

    _finance(request)
    merchant = get_object_or_404(Merchant.objects.visible_to(request.user), pk=request.POST.get("merchant"))
    try:
        day = date.fromisoformat(request.POST.get("day", ""))
        rec = provider_reconcile_day(merchant=merchant, day=day, actor=request.user)
    except ValueError:
        messages.error(request, tr("日期无效", "Invalid date"))
        return redirect("ledger:reconcile")
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
        return redirect("ledger:reconcile")
    return redirect("ledger:reconcile-detail", pk=rec.pk)


@login_required
@require_POST
def reconcile_item_fix(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    from canteen.core.errors import DomainError

    from .bills import reconciliation_item_fix
    from .models import ReconciliationItem

    _finance(request)
    item = get_object_or_404(ReconciliationItem.objects.visible_to(request.user), pk=pk)
    try:
        reconciliation_item_fix(
            item=item, action=request.POST.get("action", ""), actor=request.user, reason=request.POST.get("reason", "")
        )
        messages.success(request, tr("已处理", "Done"))
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect("ledger:reconcile-detail", pk=item.reconciliation_id)


# ---------------------------------------------------------------------------------------------
# WeChat web authorization: bind the signed-in guardian's openid (once)


@login_required
def wechat_oauth_start(request: HttpRequest, student_id: uuid.UUID) -> HttpResponse:
    """Inside WeChat: off to the Official Account's authorize page (for the merchant of this
    child's school), back to the callback with a code."""
    import secrets

    from canteen.org.models import Student

    from .merchants import merchant_for
    from .oauth import authorize_url

    child = get_object_or_404(Student.objects.visible_to(request.user).select_related("campus__school"), pk=student_id)
    merchant = merchant_for(student=child, provider=wechat.NAME)
    state = secrets.token_urlsafe(16)
    request.session["wechat_oauth"] = {"state": state, "merchant": str(merchant.pk), "student": str(child.pk)}
    callback = request.build_absolute_uri("/ledger/wechat/oauth/callback/")
    return redirect(authorize_url(merchant=merchant, redirect_uri=callback, state=state))


@login_required
def wechat_oauth_callback(request: HttpRequest) -> HttpResponse:
    from canteen.core.errors import DomainError

    from .models import Merchant
    from .oauth import guardian_openid_bind, openid_for_code

    pending = request.session.pop("wechat_oauth", None)
    if not pending or not request.GET.get("code") or request.GET.get("state") != pending.get("state"):
        messages.error(request, tr("微信授权已失效，请重试", "The WeChat authorization expired; try again"))
        return redirect("ledger:guardian-home")
    merchant = get_object_or_404(Merchant, pk=pending["merchant"], provider=wechat.NAME)
    try:
        openid = openid_for_code(merchant=merchant, code=request.GET["code"])
        guardian_openid_bind(user=request.user, app_id=merchant.sub_app_id or merchant.app_id, openid=openid)
        messages.success(request, tr("已绑定微信", "WeChat bound"))
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect("ledger:top-up", student_id=pending["student"])
