"""Pages: the guardian's phone page (consent, photo, withdrawal, QR card, PIN) and the staff
enrolment list per class. Errors of the services are shown as messages, in the user's language."""

from __future__ import annotations

import functools
import uuid

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError, Forbidden, NotFound
from canteen.core.i18n import tr
from canteen.org.choices import Role

from . import selectors, services
from .access import is_guardian_of, is_staff_of_campus
from .consent_text import CURRENT_VERSION, consent_text
from .models import QrCredential, TemplateSource


def pages(view):
    """Map a service's NotFound / Forbidden on a page to Django's 404 / 403 pages."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message_en) from exc
        except Forbidden as exc:
            raise PermissionDenied(exc.message_en) from exc

    return login_required(wrapper)


def _fail(request, exc: DomainError) -> None:
    messages.error(request, exc.message(request.LANGUAGE_CODE))


def _qr_svg(student) -> str | None:
    credential = QrCredential.objects.filter(student=student, revoked_at__isnull=True).first()
    if credential is None:
        return None
    return segno.make(services.qr_token_for(credential), error="m").svg_inline(scale=6, border=2)


@pages
def children(request):
    """A guardian's children and the state of each one's face recognition and alternatives."""
    rows = selectors.children_of_guardian(actor=request.user)
    return render(request, "identity/children.html", {"rows": rows})


@pages
def child(request, student_id):
    student = selectors.student_for(actor=request.user, student_id=student_id)
    if not is_guardian_of(request.user, student):
        raise Forbidden()
    status = selectors.students_status(actor=request.user, students=[student])[0]
    zh, en = consent_text(CURRENT_VERSION)
    return render(
        request,
        "identity/child.html",
        {
            "student": student,
            "status": status,
            "consent_zh": zh,
            "consent_en": en,
            "text_version": CURRENT_VERSION,
            "qr_svg": _qr_svg(student),
        },
    )


def _back(student_id, request):
    if request.POST.get("next") == "class":
        try:
            return redirect("identity:class", class_id=uuid.UUID(request.POST.get("class_id", "")))
        except ValueError:
            pass
    return redirect("identity:child", student_id=student_id)


@pages
@require_POST
def consent(request, student_id):
    student = selectors.student_for(actor=request.user, student_id=student_id)
    if request.POST.get("agree") != "on":
        messages.error(request, tr("请勾选“我已阅读并同意”", 'Tick "I have read and agree"'))
        return _back(student_id, request)
    try:
        services.consent_give(
            student=student,
            actor=request.user,
            keep_display_photo=request.POST.get("keep_display_photo") == "on",
            text_version=request.POST.get("text_version") or CURRENT_VERSION,
        )
        messages.success(request, tr("已记录您的同意，请上传照片", "Consent recorded; now upload a photo"))
    except DomainError as exc:
        _fail(request, exc)
    return _back(student_id, request)


@pages
@require_POST
def withdraw(request, student_id):
    student = selectors.student_for(actor=request.user, student_id=student_id)
    try:
        services.consent_withdraw(student=student, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(
            request,
            tr(
                "已撤回同意，人脸数据已在服务器和所有窗口终端删除；请使用二维码或 PIN 就餐",
                "Consent withdrawn; face data deleted on the server and every window terminal. "
                "Use the QR code or PIN for meals",
            ),
        )
    except DomainError as exc:
        _fail(request, exc)
    return _back(student_id, request)


@pages
@require_POST
def enrol(request, student_id):
    student = selectors.student_for(actor=request.user, student_id=student_id)
    files = request.FILES.getlist("photos")
    source = TemplateSource.GUARDIAN_UPLOAD if is_guardian_of(request.user, student) else TemplateSource.STAFF_CAPTURE
    try:
        templates = services.face_enrol(
            student=student,
            actor=request.user,
            photos=[f.read(services.MAX_PHOTO_BYTES + 1) for f in files],
            source=source,
            keep_photo=request.POST.get("keep_photo") == "on",
        )
        messages.success(
            request,
            tr(
                f"{student.name} 已完成人脸登记（{len(templates)} 张照片），照片本身未保存",
                f"{student.name} is enrolled ({len(templates)} photo(s)); the photos themselves were not kept",
            ),
        )
    except DomainError as exc:
        _fail(request, exc)
    return _back(student_id, request)


@pages
@require_POST
def qr_issue(request, student_id):
    student = selectors.student_for(actor=request.user, student_id=student_id)
    try:
        services.qr_credential_issue(student=student, actor=request.user)
        messages.success(
            request, tr("已生成新的就餐二维码，旧卡已作废", "New meal QR code issued; the old card no longer works")
        )
    except DomainError as exc:
        _fail(request, exc)
    return _back(student_id, request)


@pages
@require_POST
def pin(request, student_id):
    student = selectors.student_for(actor=request.user, student_id=student_id)
    try:
        services.pin_set(student=student, pin=request.POST.get("pin", ""), actor=request.user)
        messages.success(request, tr("PIN 已设置", "PIN set"))
    except DomainError as exc:
        _fail(request, exc)
    return _back(student_id, request)


@pages
def classes(request):
    rows = selectors.classes_for_staff(actor=request.user)
    return render(request, "identity/classes.html", {"classes": rows})


@pages
def class_detail(request, class_id):
    klass = selectors.class_for(actor=request.user, class_id=class_id)
    rows = selectors.class_enrolment_status(school_class=klass, actor=request.user)
    summary = {
        "total": len(rows),
        "enrolled": sum(r.status_code == "enrolled" for r in rows),
        "consented": sum(r.status_code == "consented" for r in rows),
        "no_consent": sum(r.status_code == "no_consent" for r in rows),
    }
    return render(request, "identity/class.html", {"klass": klass, "rows": rows, "summary": summary})


@pages
def class_cards(request, class_id):
    klass = selectors.class_for(actor=request.user, class_id=class_id)
    if not is_staff_of_campus(request.user, klass.campus):
        raise Forbidden()
    pdf = services.qr_card_sheet_pdf(school_class=klass, actor=request.user)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="meal-cards-{klass.pk}.pdf"'
    return response


@pages
def statistics(request):
    rows = selectors.consent_statistics(actor=request.user)
    totals = {k: sum(r[k] for r in rows) for k in ("students", "consented", "enrolled", "withdrawn")}
    return render(
        request,
        "identity/statistics.html",
        {"rows": rows, "totals": totals, "is_regulator": request.user.role != Role.SCHOOL_ADMIN},
    )
