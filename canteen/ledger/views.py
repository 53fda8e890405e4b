"""Ledger pages: guardians on their phones, school and district finance staff, and the public
monthly disclosure. Views are thin: forms in, services and selectors do the work.

Money-moving forms carry a one-time token rendered into the form; it is the posting's
idempotency key, so a double tap or a browser resubmit posts once."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError
from canteen.core.i18n import localized, tr
from canteen.core.money import Money
from canteen.org.choices import Role
from canteen.org.models import Campus, Student

from . import exports, reports, selectors, services, subsidies
from .models import Book, PeriodClose, Reconciliation, SubsidyRun, TopUpOrder
from .payments import registry
from .payments import views as payment_views
from .payments.models import Merchant
from .providers import provider_for

FINANCE_ROLES = {Role.CITY_REGULATOR, Role.DISTRICT_REGULATOR, Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER}
CLOSING_ROLES = {Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER}


def _money(text: str | None, *, allow_blank: bool = False) -> Money | None:
    text = (text or "").strip()
    if not text and allow_blank:
        return None
    try:
        return Money.from_yuan(text)
    except (ValueError, TypeError) as exc:
        raise DomainError("金额格式不正确", "Not a valid amount", code="invalid_amount") from exc


def _child(request: HttpRequest, student_id: uuid.UUID) -> Student:
    return get_object_or_404(Student.objects.visible_to(request.user).select_related("campus__school"), pk=student_id)


def _token() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------------------------------------
# Guardians


@login_required
def guardian_home(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    children = []
    for child, wallet in selectors.wallets_for_guardian(actor=request.user):
        children.append(
            {
                "student": child,
                "wallet": wallet,
                "balance_fen": wallet.balance_fen if wallet else 0,
                # Restricted subsidy: spent on meals first, never paid out (ledger.subsidies).
                "allowance_fen": subsidies.allowance_balance(student=child).fen,
                "spent_today_fen": selectors.spent_today_fen(account=wallet, on=today) if wallet else 0,
                "low": bool(
                    wallet
                    and wallet.low_balance_alert_fen is not None
                    and wallet.balance_fen < wallet.low_balance_alert_fen
                ),
            }
        )
    last_month = today.replace(day=1) - timedelta(days=1)
    return render(
        request,
        "ledger/guardian_home.html",
        {"children": children, "token": _token(), "last_month": last_month, "today": today},
    )


@login_required
def statement(request: HttpRequest, student_id: uuid.UUID) -> HttpResponse:
    child = _child(request, student_id)
    wallet = selectors.wallet_of(student=child)
    lines = selectors.statement_lines(actor=request.user, student=child)
    return render(
        request,
        "ledger/statement.html",
        {"child": child, "wallet": wallet, "lines": lines, "balance_fen": wallet.balance_fen if wallet else 0},
    )


@login_required
@require_POST
def wallet_settings(request: HttpRequest, student_id: uuid.UUID) -> HttpResponse:
    child = _child(request, student_id)
    try:
        services.wallet_settings_update(
            student=child,
            actor=request.user,
            daily_limit=_money(request.POST.get("daily_limit"), allow_blank=True),
            low_balance_alert=_money(request.POST.get("low_balance_alert"), allow_blank=True),
        )
        messages.success(request, tr("设置已保存", "Settings saved"))
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect("ledger:guardian-home")


@login_required
@require_POST
def transfer(request: HttpRequest) -> HttpResponse:
    try:
        source = _child(request, uuid.UUID(request.POST["from_student"]))
        target = _child(request, uuid.UUID(request.POST["to_student"]))
        services.transfer(
            from_student=source,
            to_student=target,
            amount=_money(request.POST.get("amount")),
            actor=request.user,
            idempotency_key=f"web:{request.POST.get('token', '')}",
        )
        messages.success(request, tr("转账成功", "Transfer done"))
    except (KeyError, ValueError):
        messages.error(request, tr("请选择孩子", "Choose the children"))
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect("ledger:guardian-home")


@login_required
def top_up_start(request: HttpRequest, student_id: uuid.UUID) -> HttpResponse:
    child = _child(request, student_id)
    provider = registry.default_provider()
    if request.method == "POST":
        try:
            if provider is None:
                raise DomainError("暂未开通在线充值", "Online top-ups are not available", code="no_provider")
            if provider == registry.DEMO:
                order = services.topup_order_create(
                    student=child, amount=_money(request.POST.get("amount")), actor=request.user
                )
            else:
                order = payment_views.start_for_guardian(
                    request, child=child, amount=_money(request.POST.get("amount")), provider=provider
                )
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
            return redirect("ledger:top-up", student_id=child.pk)
        return redirect(provider_for(order.provider).checkout_url(order))
    in_wechat = "MicroMessenger" in request.headers.get("User-Agent", "")
    bind = in_wechat and provider == "wechat" and not request.user.wechat_bindings.exists()
    return render(
        request,
        "ledger/top_up.html",
        {"child": child, "presets": [50, 100, 200, 500], "provider": provider, "wechat_bind": bind},
    )


def _demo_only(view):
    """The demo provider's pages exist only where it is registered (never in production): 404
    before anything else, signed in or not."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        registry.require(registry.DEMO)
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@_demo_only
@login_required
def demo_pay(request: HttpRequest, out_trade_no: str) -> HttpResponse:
    """The demo provider's own checkout page: confirming pays, and the provider then notifies us
    with a signed callback (delivered in-process here; the HTTP callback endpoint is the API's)."""
    order = get_object_or_404(
        TopUpOrder.objects.visible_to(request.user).select_related("student"), out_trade_no=out_trade_no
    )
    if request.method == "POST":
        provider = provider_for(order.provider)
        body, signature = provider.pay(order)
        try:
            services.provider_notification_handle(provider=order.provider, body=body, signature=signature)
            messages.success(
                request, tr(f"充值成功：{Money(order.amount_fen)}", f"Topped up {Money(order.amount_fen)}")
            )
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
        return redirect("ledger:statement", student_id=order.student_id)
    return render(request, "ledger/demo_pay.html", {"order": order})


# ---------------------------------------------------------------------------------------------
# Finance staff


def _finance_user(request: HttpRequest) -> None:
    if not (request.user.is_superuser or request.user.role in FINANCE_ROLES):
        raise PermissionDenied


def _period(request: HttpRequest) -> tuple[date, date]:
    today = timezone.localdate()
    try:
        start = date.fromisoformat(request.GET.get("start", "")) if request.GET.get("start") else today.replace(day=1)
        end = date.fromisoformat(request.GET.get("end", "")) if request.GET.get("end") else today
    except ValueError:
        start, end = today.replace(day=1), today
    return start, max(start, end)


@login_required
def finance_home(request: HttpRequest) -> HttpResponse:
    _finance_user(request)
    start, end = _period(request)
    report = reports.campus_report(actor=request.user, start=start, end=end)
    campus_ids = [row.campus.pk for row in report.rows]
    books = dict(Book.objects.filter(campus_id__in=campus_ids).values_list("campus_id", "closed_through"))
    for row in report.rows:
        row.closed_through = books.get(row.campus.pk)
    today = timezone.localdate()
    return render(
        request,
        "ledger/finance_home.html",
        {
            "report": report,
            "start": start,
            "end": end,
            "today": today,
            "last_month": today.replace(day=1) - timedelta(days=1),
            "can_close": request.user.is_superuser or request.user.role in CLOSING_ROLES,
            "closes": PeriodClose.objects.visible_to(request.user).select_related("campus")[:20],
            "reconciliations": Reconciliation.objects.visible_to(request.user)[:10],
            "subsidy_runs": SubsidyRun.objects.visible_to(request.user)[:10],
            "subsidy": subsidies.subsidy_report(actor=request.user, start=start, end=end),
            "campus_names": {row.campus.pk: str(row.campus) for row in report.rows},
            "campuses": Campus.objects.visible_to(request.user).order_by("code")[:200],
            "token": _token(),
        },
    )


def _student_by_number(request: HttpRequest) -> Student:
    number = (request.POST.get("student_number") or "").strip()
    students = Student.objects.visible_to(request.user).filter(student_number=number)
    if request.POST.get("campus"):
        students = students.filter(campus_id=request.POST["campus"])
    found = list(students[:2])
    if len(found) != 1:
        raise DomainError(
            "找不到该学号（或需选择校区）", "No such student number (or choose the campus)", code="not_found"
        )
    return found[0]


@login_required
@require_POST
def office_top_up(request: HttpRequest) -> HttpResponse:
    """Cash or a bank transfer received at the school office."""
    if not (request.user.is_superuser or request.user.role in CLOSING_ROLES):
        raise PermissionDenied
    try:
        student = _student_by_number(request)
        posting = services.top_up(
            student=student,
            amount=_money(request.POST.get("amount")),
            channel=request.POST.get("channel", ""),
            idempotency_key=f"web:{request.POST.get('token', '')}",
            actor=request.user,
            provider_ref=request.POST.get("reference", "")[:120],
        )
        messages.success(
            request,
            tr(
                f"已为 {student.name} 充值 {Money(posting.amount_fen)}",
                f"Topped up {student.name}: {Money(posting.amount_fen)}",
            ),
        )
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect("ledger:finance-home")


@login_required
@require_POST
def office_close_account(request: HttpRequest) -> HttpResponse:
    """A student leaves: the balance moves to refunds due and the wallet closes."""
    if not (request.user.is_superuser or request.user.role in CLOSING_ROLES):
        raise PermissionDenied
    try:
        student = _student_by_number(request)
        posting = services.account_close(
            student=student,
            actor=request.user,
            idempotency_key=f"web:{request.POST.get('token', '')}",
            reason=request.POST.get("reason", "")[:200],
        )
        refund = Money(posting.amount_fen if posting else 0)
        messages.success(
            request, tr(f"{student.name} 已销户，应退 {refund}", f"{student.name}'s wallet closed; refund due {refund}")
        )
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect("ledger:finance-home")


@login_required
def report_export(request: HttpRequest, fmt: str) -> HttpResponse:
    _finance_user(request)
    start, end = _period(request)
    report = reports.campus_report(actor=request.user, start=start, end=end)
    if fmt == "xlsx":
        response = HttpResponse(
            exports.report_xlsx(report),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif fmt == "pdf":
        response = HttpResponse(exports.report_pdf(report), content_type="application/pdf")
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="canteen-finance-{start}-{end}.{fmt}"'
    return response


@login_required
@require_POST
def period_close(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_superuser or request.user.role in CLOSING_ROLES):
        raise PermissionDenied
    campus = get_object_or_404(Campus.objects.visible_to(request.user), pk=request.POST.get("campus"))
    try:
        through = date.fromisoformat(request.POST.get("through", ""))
        period = "month" if request.POST.get("period") == "month" else "day"
        services.period_close(campus=campus, through=through, actor=request.user, period=period)
        messages.success(request, tr(f"已结账至 {through}", f"Closed through {through}"))
    except ValueError:
        messages.error(request, tr("日期无效", "Invalid date"))
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect("ledger:finance-home")


@login_required
def reconcile(request: HttpRequest) -> HttpResponse:
    _finance_user(request)
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            day = date.fromisoformat(request.POST.get("day", ""))
        except ValueError:
            day = None
        if upload is None or day is None or upload.size > 5_000_000:
            messages.error(request, tr("请选择结算日期和 CSV 文件", "Choose the settlement date and a CSV file"))
            return redirect("ledger:reconcile")
        rec = services.reconciliation_run(
            provider=request.POST.get("provider", "demo"),
            day=day,
            csv_text=upload.read().decode("utf-8-sig", errors="replace"),
            actor=request.user,
            file_name=upload.name,
            district=getattr(request.user, "district_id", None),
        )
        return redirect("ledger:reconcile-detail", pk=rec.pk)
    return render(
        request,
        "ledger/reconcile.html",
        {
            "reconciliations": Reconciliation.objects.visible_to(request.user)[:30],
            "today": timezone.localdate(),
            "providers": [(name, *registry.LABELS[name]) for name in registry.registered()],
            "demo": registry.is_registered(registry.DEMO),
            "merchants": Merchant.objects.visible_to(request.user).filter(active=True).select_related("school")[:200],
        },
    )


@login_required
def reconcile_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    _finance_user(request)
    rec = get_object_or_404(Reconciliation.objects.visible_to(request.user), pk=pk)
    items = rec.items.select_related("order", "posting", "fix_posting") if rec.merchant_id else []
    return render(request, "ledger/reconcile_detail.html", {"rec": rec, "items": items})


@_demo_only
@login_required
def demo_settlement(request: HttpRequest) -> HttpResponse:
    """Download the demo provider's settlement file for a day (what a real provider would send)."""
    _finance_user(request)
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    response = HttpResponse(provider_for("demo").settlement_csv(day), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="demo-settlement-{day}.csv"'
    return response


# ---------------------------------------------------------------------------------------------
# Public disclosure (aggregates only; open to everyone, as a notice board would be)


def _disclosure(campus_id: uuid.UUID, year: int, month: int) -> reports.Disclosure:
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise Http404
    campus = get_object_or_404(Campus.objects.select_related("school"), pk=campus_id)
    return reports.disclosure_for(campus=campus, year=year, month=month)


def disclosure(request: HttpRequest, campus_id: uuid.UUID, year: int, month: int) -> HttpResponse:
    d = _disclosure(campus_id, year, month)
    # The printed PDF is bilingual; the page shows the reader's language.
    rows = [(localized(label), value) for label, value in exports.disclosure_rows(d)]
    return render(request, "ledger/disclosure.html", {"d": d, "rows": rows})


def disclosure_pdf(request: HttpRequest, campus_id: uuid.UUID, year: int, month: int) -> HttpResponse:
    d = _disclosure(campus_id, year, month)
    response = HttpResponse(exports.disclosure_pdf(d), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="disclosure-{d.campus.code}-{year}-{month:02d}.pdf"'
    return response
