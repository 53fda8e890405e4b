"""The school calendar page: the district's terms, vacations, exam days and closures, each
school's own entries, and a form to add one."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError
from canteen.core.i18n import tr
from canteen.org.choices import Role
from canteen.org.models import School

from . import selectors, services
from .choices import EntryKind

VIEW_ROLES = {Role.CITY_REGULATOR, Role.DISTRICT_REGULATOR, Role.SCHOOL_ADMIN}


def _viewer(request: HttpRequest) -> None:
    if not (request.user.is_superuser or request.user.role in VIEW_ROLES):
        raise PermissionDenied


@login_required
def home(request: HttpRequest) -> HttpResponse:
    _viewer(request)
    if request.method == "POST":
        try:
            school_id = request.POST.get("school") or None
            school = (
                get_object_or_404(School.objects.visible_to(request.user), pk=uuid.UUID(school_id))
                if school_id
                else None
            )
            district = school.district if school else request.user.district
            if district is None:
                raise PermissionDenied
            services.calendar_entry_create(
                actor=request.user,
                district=district,
                school=school,
                kind=request.POST.get("kind", ""),
                name=request.POST.get("name", ""),
                start=dt.date.fromisoformat(request.POST.get("start", "")),
                end=dt.date.fromisoformat(request.POST.get("end", "")),
                note=request.POST.get("note", ""),
            )
            messages.success(request, tr("已添加", "Added"))
        except (ValueError, TypeError):
            messages.error(request, tr("日期格式不正确", "Not a valid date"))
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
        return redirect("schoolcalendar:home")
    return render(
        request,
        "schoolcalendar/home.html",
        {
            "entries": selectors.entries_visible_to(request.user).order_by("start", "kind")[:500],
            "schools": School.objects.visible_to(request.user).order_by("code")[:200],
            "kinds": EntryKind.choices,
            "today": timezone.localdate(),
        },
    )


@login_required
@require_POST
def delete(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    _viewer(request)
    entry = get_object_or_404(selectors.entries_visible_to(request.user), pk=pk)
    try:
        services.calendar_entry_delete(actor=request.user, entry=entry)
        messages.success(request, tr("已删除", "Deleted"))
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    return redirect("schoolcalendar:home")
