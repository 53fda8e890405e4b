"""Pages: dashboards with drill-down, the big screen, cases, ranking, inspections, feedback,
and the parents' QR form (no login)."""

from __future__ import annotations

from datetime import datetime, time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from canteen.core.errors import DomainError, Forbidden
from canteen.core.i18n import tr
from canteen.core.pagination import paginate
from canteen.core.params import int_param
from canteen.org.choices import REGULATOR_ROLES, SCHOOL_STAFF_ROLES

from . import selectors, services
from .api.views import client_ip
from .choices import CHECKLIST, TRANSITIONS, CaseSource, CaseStatus, FeedbackKind, Flag, ItemResult


def _regulator_or_school(user) -> None:
    if not (user.is_superuser or user.role in REGULATOR_ROLES or user.role in SCHOOL_STAFF_ROLES):
        raise PermissionDenied


def _regulator(user) -> None:
    if not (user.is_superuser or user.role in REGULATOR_ROLES):
        raise PermissionDenied


def _unit(request: HttpRequest) -> selectors.Unit:
    level, unit_id = request.GET.get("level"), request.GET.get("id")
    try:
        if level and unit_id:
            return selectors.resolve_unit(actor=request.user, level=level, unit_id=unit_id)
        return selectors.default_unit(request.user)
    except Forbidden as exc:
        raise PermissionDenied from exc
    except DomainError as exc:
        raise Http404 from exc


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    _regulator_or_school(request.user)
    unit = _unit(request)
    try:
        start, end = selectors.parse_range(request.GET.get("start"), request.GET.get("end"))
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
        start, end = selectors.parse_range(None, None)
    data = selectors.dashboard(actor=request.user, unit=unit, start=start, end=end)
    return render(request, "supervision/dashboard.html", {"d": data, "unit": unit, "start": start, "end": end})


@login_required
def bigscreen(request: HttpRequest) -> HttpResponse:
    _regulator(request.user)
    unit = _unit(request)
    api = reverse("supervision-api:bigscreen") + f"?level={unit.level}&id={unit.id}"
    interval = int_param(request.GET, "every", default=3000, minimum=1000, maximum=3_600_000)
    return render(
        request,
        "supervision/bigscreen.html",
        {"unit": unit, "api": api, "interval": interval, "time_zone": settings.TIME_ZONE},
    )


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    _regulator_or_school(request.user)
    q = request.GET
    cases = selectors.cases_visible(
        actor=request.user,
        status=q.get("status") or None,
        source=q.get("source") or None,
        flag=q.get("flag") or None,
        open_only=q.get("open") == "1",
    )
    page = paginate(request, cases)
    return render(
        request,
        "supervision/case_list.html",
        {
            "page": page,
            "statuses": CaseStatus.choices,
            "sources": CaseSource.choices,
            "flags": Flag.choices[1:],
            "q": q,
        },
    )


def _allowed_actions(user, case) -> set[str]:
    regulator = user.is_superuser or user.role in REGULATOR_ROLES
    school = user.role in SCHOOL_STAFF_ROLES
    moves = {action for (action, status) in TRANSITIONS if status == case.status}
    allowed = set()
    for action in moves:
        if action == "respond" and school:
            allowed.add(action)
        elif action != "respond" and regulator:
            allowed.add("review" if action in ("accept", "return") else action)
    return allowed


@login_required
@require_http_methods(["GET", "POST"])
def case_detail(request: HttpRequest, pk) -> HttpResponse:
    _regulator_or_school(request.user)
    try:
        case = selectors.case_get(actor=request.user, case_id=pk)
    except DomainError as exc:
        raise Http404 from exc
    if request.method == "POST":
        action = request.POST.get("action", "")
        note = request.POST.get("note", "")
        try:
            if action == "assign":
                deadline = None
                if request.POST.get("deadline"):
                    day = datetime.fromisoformat(request.POST["deadline"]).date()
                    deadline = timezone.make_aware(datetime.combine(day, time(18, 0)))
                services.case_assign(
                    case=case,
                    actor=request.user,
                    deadline=deadline,
                    school_id=request.POST.get("school") or None,
                    campus_id=request.POST.get("campus") or None,
                    note=note,
                )
            elif action == "respond":
                services.case_respond(case=case, actor=request.user, note=note, files=request.FILES.getlist("files"))
            elif action in ("accept", "return"):
                services.case_review(case=case, actor=request.user, accept=action == "accept", note=note)
            elif action == "close":
                services.case_close(case=case, actor=request.user, note=note)
            elif action == "dismiss":
                services.case_dismiss(case=case, actor=request.user, note=note)
            else:
                raise Http404
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
        except ValueError:
            messages.error(request, tr("日期格式有误", "The date is not valid"))
        else:
            messages.success(request, tr("已保存", "Saved"))
        return redirect("supervision:case-detail", pk=case.pk)
    from canteen.org.models import School

    schools = School.objects.visible_to(request.user).filter(district_id=case.district_id).order_by("code")
    return render(
        request,
        "supervision/case_detail.html",
        {
            "case": case,
            "steps": case.steps.select_related("actor"),
            "evidence": case.evidence.all(),
            "actions": _allowed_actions(request.user, case),
            "schools": schools,
        },
    )


@login_required
def ranking(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_superuser or request.user.role in REGULATOR_ROLES or request.user.role == "school_admin"):
        raise PermissionDenied
    try:
        start, end = selectors.parse_range(request.GET.get("start"), request.GET.get("end"))
    except DomainError:
        start, end = selectors.parse_range(None, None)
    rows = selectors.school_ranking(
        actor=request.user, start=start, end=end, district_id=request.GET.get("district") or None
    )
    return render(
        request,
        "supervision/ranking.html",
        {"rows": rows, "start": start, "end": end, "method": selectors.ranking_method()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def inspection_list(request: HttpRequest) -> HttpResponse:
    _regulator(request.user)
    from canteen.org.models import Campus, District

    if request.method == "POST":
        try:
            planned_on = datetime.fromisoformat(request.POST.get("planned_on", "")).date()
            if request.POST.get("mode") == "draw":
                seed = request.POST.get("seed")
                drawn = services.inspection_draw_random(
                    actor=request.user,
                    district_id=request.POST.get("district"),
                    campuses=int(request.POST.get("campuses") or 0),
                    inspectors_per_inspection=int(request.POST.get("per") or 2),
                    planned_on=planned_on,
                    seed=int(seed) if seed else None,
                )
                messages.success(request, tr(f"已抽取 {len(drawn)} 个校区", f"Drew {len(drawn)} campuses"))
            else:
                services.inspection_plan(
                    actor=request.user, campus_id=request.POST.get("campus"), planned_on=planned_on
                )
                messages.success(request, tr("已安排检查", "Inspection planned"))
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
        except ValueError:
            messages.error(request, tr("输入有误", "The input is not valid"))
        return redirect("supervision:inspection-list")
    page = paginate(request, selectors.inspections_visible(actor=request.user))
    return render(
        request,
        "supervision/inspection_list.html",
        {
            "page": page,
            "districts": District.objects.visible_to(request.user).order_by("code"),
            "campuses": Campus.objects.visible_to(request.user).select_related("school").order_by("code")[:500],
            "today": timezone.localdate(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def inspection_detail(request: HttpRequest, pk) -> HttpResponse:
    _regulator(request.user)
    try:
        inspection = selectors.inspection_get(actor=request.user, inspection_id=pk)
    except DomainError as exc:
        raise Http404 from exc
    if request.method == "POST":
        results = {
            code: (request.POST.get(f"result_{code}", "pending"), request.POST.get(f"note_{code}", ""))
            for code, _, _ in CHECKLIST
        }
        try:
            services.inspection_record(
                actor=request.user, inspection=inspection, results=results, summary=request.POST.get("summary", "")
            )
            messages.success(request, tr("检查已完成", "Inspection recorded"))
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
        return redirect("supervision:inspection-detail", pk=inspection.pk)
    return render(
        request,
        "supervision/inspection_detail.html",
        {"inspection": inspection, "items": inspection.items.all(), "results": ItemResult.choices[1:]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def feedback_list(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_superuser or request.user.role in REGULATOR_ROLES or request.user.role == "school_admin"):
        raise PermissionDenied
    if request.method == "POST":
        try:
            services.feedback_answer(
                feedback=request.POST.get("feedback"), actor=request.user, answer=request.POST.get("answer", "")
            )
            messages.success(request, tr("已答复", "Answered"))
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
        return redirect("supervision:feedback-list")
    page = paginate(request, selectors.feedback_visible(actor=request.user))
    return render(request, "supervision/feedback_list.html", {"page": page})


@login_required
def qr_sheet(request: HttpRequest) -> HttpResponse:
    """Printable QR codes, one per canteen, for the dining hall wall."""
    _regulator_or_school(request.user)
    from canteen.org.models import Canteen

    canteens = Canteen.objects.visible_to(request.user).select_related("campus__school").order_by("code")
    page = paginate(request, canteens, 24)
    return render(request, "supervision/qr_sheet.html", {"canteens": page.object_list, "page": page})


def qr_svg(request: HttpRequest, code: str) -> HttpResponse:
    """The QR code of a canteen's feedback form (public: it is printed on the wall anyway)."""
    from canteen.core.qr import qr_svg_document
    from canteen.org.models import Canteen

    if not Canteen.objects.filter(code=code).exists():
        raise Http404
    url = request.build_absolute_uri(reverse("supervision:public-feedback", kwargs={"code": code}))
    return HttpResponse(qr_svg_document(url), content_type="image/svg+xml")


@require_http_methods(["GET", "POST"])
def public_feedback(request: HttpRequest, code: str) -> HttpResponse:
    """The parents' phone form (no login)."""
    from canteen.org.models import Canteen

    canteen = Canteen.objects.select_related("campus__school").filter(code=code).first()
    if canteen is None:
        raise Http404
    error, code_status = None, 200
    if request.method == "POST":
        rating = request.POST.get("rating")
        try:
            feedback = services.feedback_submit(
                canteen_code=code,
                kind=request.POST.get("kind", ""),
                text=request.POST.get("text", ""),
                rating=int(rating) if rating else None,
                contact=request.POST.get("contact", ""),
                ip=client_ip(request),
            )
        except DomainError as exc:
            error, code_status = exc.message(request.LANGUAGE_CODE), exc.status
        except ValueError:
            error, code_status = tr("评分有误", "The rating is not valid"), 400
        else:
            return redirect(reverse("supervision:public-follow") + f"?code={feedback.follow_code}&new=1")
    return render(
        request,
        "supervision/public_feedback.html",
        {"canteen": canteen, "kinds": FeedbackKind.choices, "error": error, "form": request.POST},
        status=code_status,
    )


def public_follow(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "")
    feedback = selectors.feedback_follow(code=code) if code else None
    return render(
        request,
        "supervision/public_follow.html",
        {"feedback": feedback, "code": code, "new": request.GET.get("new") == "1"},
    )
