"""Pages: meal records (staff and guardians), the terminals of a campus, and the staffed window
where an operator checks a student out by QR card, student number + PIN or by sight (the
alternative to the face, on equal footing), and answers the allergen conflicts the kiosks stop."""

from __future__ import annotations

import base64
import uuid
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError
from canteen.core.i18n import tr
from canteen.core.pagination import paginate
from canteen.org.models import ServingWindow

from . import selectors, services
from .errors import UnknownStudent
from .models import Terminal

MANAGER_ROLES = frozenset({"canteen_manager", "school_admin"})


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@login_required
def record_list(request: HttpRequest) -> HttpResponse:
    served_on = _day(request.GET.get("day"))
    records = selectors.meal_records(actor=request.user, served_on=served_on)
    page = paginate(request, records, 50)
    summary = []
    campus_id = getattr(request.user, "campus_id", None)
    if campus_id:
        summary = selectors.meals_served_summary(
            actor=request.user, campus_id=campus_id, served_on=served_on or timezone.localdate()
        )
    return render(
        request,
        "consumption/record_list.html",
        {"page": page, "day": served_on, "summary": summary, "today": timezone.localdate()},
    )


def _require_manager(request: HttpRequest) -> None:
    if not (request.user.is_superuser or getattr(request.user, "role", None) in MANAGER_ROLES):
        raise PermissionDenied


@login_required
def terminal_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    terminals = selectors.terminals(actor=request.user)
    windows = ServingWindow.objects.visible_to(request.user).select_related("canteen")
    return render(
        request,
        "consumption/terminal_list.html",
        {"terminals": terminals, "windows": windows, "new_token": request.session.pop("new_terminal_token", None)},
    )


@login_required
@require_POST
def terminal_register(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    window = get_object_or_404(ServingWindow.objects.visible_to(request.user), pk=request.POST.get("window"))
    try:
        limit = int(round(float(request.POST.get("offline_limit_yuan") or "30") * 100))
    except ValueError:
        limit = 3000
    terminal, token = services.terminal_register(window=window, actor=request.user, offline_limit_fen=max(0, limit))
    # Shown once, on the next page, never stored in clear.
    from canteen.identity.services import terminal_package_key

    gallery_key = base64.b64encode(terminal_package_key(campus=terminal.campus)).decode()
    request.session["new_terminal_token"] = {"code": terminal.code, "token": token, "gallery_key": gallery_key}
    return redirect("consumption:terminal-list")


@login_required
@require_POST
def terminal_deactivate(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    _require_manager(request)
    terminal = get_object_or_404(Terminal.objects.visible_to(request.user), pk=pk)
    services.terminal_deactivate(terminal=terminal, actor=request.user)
    messages.success(request, tr(f"终端 {terminal.code} 已停用", f"Terminal {terminal.code} deactivated"))
    return redirect("consumption:terminal-list")


@login_required
def window_checkout(request: HttpRequest) -> HttpResponse:
    """The staffed window: student number + PIN typed by the student, or a manual check by the
    operator who knows the child. Each form carries its own idempotency key, so a double click
    or a resubmitted form charges once."""
    user = request.user
    if not (user.is_superuser or getattr(user, "role", None) in services.WINDOW_ROLES):
        raise PermissionDenied
    windows = list(ServingWindow.objects.visible_to(user).select_related("canteen"))
    result = error = None
    if request.method == "POST":
        method = request.POST.get("method", "pin")
        student_id = None
        try:
            if method == "manual":
                from canteen.org.models import Student

                student = (
                    Student.objects.visible_to(user)
                    .filter(student_number=(request.POST.get("student_number") or "").strip())
                    .first()
                )
                if student is None:
                    raise UnknownStudent()
                student_id = student.pk
            result = services.checkout_at_window(
                actor=user,
                terminal=None,
                method=method,
                idempotency_key=request.POST.get("key") or str(uuid.uuid4()),
                student_id=student_id,
                qr_token=(request.POST.get("qr_token") or "").strip() or None,
                student_number=request.POST.get("student_number"),
                pin=request.POST.get("pin"),
                window_id=request.POST.get("window"),
            )
        except DomainError as exc:
            error = exc.message(getattr(request, "LANGUAGE_CODE", None))
    return render(
        request,
        "consumption/window_checkout.html",
        {
            "windows": windows,
            "result": result,
            "error": error,
            "key": str(uuid.uuid4()),
            "chosen": request.POST.get("window", ""),
            "conflicts": selectors.allergen_conflicts_pending(actor=user, served_on=timezone.localdate()),
        },
    )


@login_required
@require_POST
def allergen_conflict_resolve(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The window staff's answer to an allergen conflict the kiosk showed in red."""
    from .allergens import allergen_conflict_resolve as resolve
    from .models import AllergenConflict

    user = request.user
    if not (user.is_superuser or getattr(user, "role", None) in services.WINDOW_ROLES):
        raise PermissionDenied
    conflict = get_object_or_404(AllergenConflict.objects.visible_to(user), pk=pk)
    try:
        conflict = resolve(
            conflict=conflict, actor=user, action=request.POST.get("action", ""), reason=request.POST.get("reason", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message(getattr(request, "LANGUAGE_CODE", None)))
    else:
        messages.success(
            request,
            tr("已处理：", "Resolved: ") + str(conflict.get_resolution_display()),
        )
    return redirect("consumption:window-checkout")
