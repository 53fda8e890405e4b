"""Pages for people coming in and going out: roster import, a pupil's life events, guardian
binding, staff accounts. Thin: every write is a service; a service's error becomes a message."""

from __future__ import annotations

import functools
import uuid

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError, Forbidden, NotFound
from canteen.core.i18n import tr

from . import binding, life, roster, staff
from .choices import CAMPUS_ROLES, Relation, Role
from .models import (
    BindingChallenge,
    Campus,
    District,
    GuardianLink,
    RosterImport,
    RosterImportStatus,
    School,
    SchoolClass,
    Student,
    User,
)

ADMIN_ROLES = {Role.SCHOOL_ADMIN, Role.DISTRICT_REGULATOR}


def pages(view):
    """Services' NotFound / Forbidden become Django's 404 / 403 pages; other domain errors a
    message on the page the user came from."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message_en) from exc
        except Forbidden as exc:
            raise PermissionDenied(exc.message_en) from exc

    return wrapper


def _admin_only(request) -> None:
    if not (request.user.is_superuser or request.user.role in ADMIN_ROLES):
        raise PermissionDenied


def _fail(request, exc: DomainError) -> None:
    messages.error(request, exc.message(request.LANGUAGE_CODE))


# -- roster import ---------------------------------------------------------------------------


def _schools_of(user: User):
    return School.objects.visible_to(user).order_by("code")


@login_required
@pages
def roster_home(request):
    _admin_only(request)
    user = request.user
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, tr("请选择文件", "Choose a file"))
            return redirect("org:roster")
        school = None
        district = None
        target = request.POST.get("school", "")
        if target == "district":
            district = District.objects.visible_to(user).filter(pk=user.district_id).first()
        else:
            try:
                school = _schools_of(user).filter(pk=uuid.UUID(target) if target else user.school_id).first()
            except ValueError:
                school = None
        try:
            if upload.size > roster.max_bytes():
                record = _refuse_size(user, upload, school, district)
            else:
                record = roster.roster_preview(
                    actor=user, data=upload.read(), filename=upload.name, school=school, district=district
                )
        except (Forbidden, NotFound):
            raise
        except DomainError as exc:
            _fail(request, exc)
            return redirect("org:roster")
        return redirect("org:roster-detail", pk=record.pk)
    imports = RosterImport.objects.visible_to(user).select_related("actor", "school").defer("content")[:20]
    return render(
        request,
        "org/roster_home.html",
        {"imports": imports, "schools": _schools_of(user), "max_mb": roster.max_bytes() // (1024 * 1024)},
    )


def _refuse_size(user: User, upload, school, district) -> RosterImport:
    """A file over the limit is refused by its declared size, unread (it is on disk already, as
    Django spools large uploads there; it is never loaded into memory)."""
    district_, school_ = roster.roster_target(actor=user, school=school, district=district)
    mb = upload.size // (1024 * 1024)
    limit = roster.max_bytes() // (1024 * 1024)
    return RosterImport.objects.create(
        actor=user,
        district=district_,
        school=school_,
        filename=upload.name[:200],
        sha256="",
        size_bytes=upload.size,
        status=RosterImportStatus.REJECTED,
        error_count=1,
        report={
            "file_errors": [
                {
                    "zh": f"文件过大（{mb} MB），上限 {limit} MB",
                    "en": f"The file is too large ({mb} MB); the limit is {limit} MB",
                    "column": "",
                }
            ],
            "rows": [],
        },
    )


@login_required
@pages
def roster_template(request):
    _admin_only(request)
    campuses = Campus.objects.visible_to(request.user).order_by("code")
    response = HttpResponse(
        roster.roster_template_xlsx(campuses=campuses),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = (
        "attachment; filename=\"roster-template.xlsx\"; filename*=UTF-8''%E5%AD%A6%E7%94%9F%E5%90%8D%E5%86%8C%E6%A8%A1%E6%9D%BF.xlsx"
    )
    return response


def _import_of(request, pk) -> RosterImport:
    return get_object_or_404(RosterImport.objects.visible_to(request.user).defer("content"), pk=pk)


@login_required
@pages
def roster_detail(request, pk):
    _admin_only(request)
    record = _import_of(request, pk)
    rows = record.report.get("rows", [])
    columns = {c.key: c for c in roster.COLUMNS}
    for row in rows:
        for m in row["errors"] + row["warnings"]:
            column = columns.get(m.get("column", ""))
            m["column_label"] = tr(column.zh, column.en) if column else ""
            m["text"] = tr(m["zh"], m["en"])
    return render(
        request,
        "org/roster_detail.html",
        {
            "record": record,
            "rows": rows,
            "file_errors": [tr(m["zh"], m["en"]) for m in record.report.get("file_errors", [])],
        },
    )


@require_POST
@login_required
@pages
def roster_confirm(request, pk):
    _admin_only(request)
    record = get_object_or_404(RosterImport.objects.visible_to(request.user), pk=pk)
    dry_run = request.POST.get("dry_run") == "1"
    try:
        record = roster.roster_confirm(actor=request.user, roster_import=record, dry_run=dry_run)
    except DomainError as exc:
        _fail(request, exc)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse({"status": record.status, "counts": record.counts})
    return redirect("org:roster-detail", pk=record.pk)


@login_required
@pages
def roster_progress(request, pk):
    _admin_only(request)
    record = _import_of(request, pk)
    return JsonResponse({"status": record.status, "rows_done": record.rows_done, "rows_total": record.rows_total})


@login_required
@pages
def roster_report(request, pk):
    _admin_only(request)
    record = _import_of(request, pk)
    response = HttpResponse(roster.roster_report_csv(record), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-report-{record.pk}.csv"'
    return response


# -- a pupil's life --------------------------------------------------------------------------


def _student(request, pk) -> Student:
    return get_object_or_404(
        Student.objects.visible_to(request.user).select_related("campus", "campus__school", "school_class"), pk=pk
    )


@login_required
@pages
def student_detail(request, pk):
    student = _student(request, pk)
    manage = life.can_manage_school(request.user, student.campus.school)
    context = {
        "student": student,
        "manage": manage,
        "links": student.guardian_links.select_related("guardian").order_by("-is_primary", "created_at"),
        "classes": SchoolClass.objects.filter(campus=student.campus).order_by("grade", "name"),
        "campuses": Campus.objects.visible_to(request.user).exclude(pk=student.campus_id).order_by("code")
        if manage
        else [],
        "binding_code": student.binding_codes.filter(revoked_at__isnull=True).first() if manage else None,
    }
    return render(request, "org/student_detail.html", context)


@require_POST
@login_required
@pages
def student_action(request, pk, action):
    student = _student(request, pk)
    user = request.user
    post = request.POST
    try:
        if action == "class":
            klass = get_object_or_404(SchoolClass, pk=post.get("school_class"), campus=student.campus)
            life.student_class_change(actor=user, student=student, school_class=klass)
        elif action == "transfer":
            campus = get_object_or_404(Campus.objects.visible_to(user), pk=post.get("campus"))
            klass = SchoolClass.objects.filter(campus=campus, pk=post.get("school_class") or None).first()
            if klass is None:
                klass, _ = SchoolClass.objects.get_or_create(
                    campus=campus,
                    grade=student.school_class.grade,
                    name=student.school_class.name,
                    defaults={"entry_year": student.school_class.entry_year},
                )
            life.student_transfer_campus(actor=user, student=student, campus=campus, school_class=klass)
        elif action == "suspend":
            life.student_suspend(actor=user, student=student, reason=post.get("reason", ""))
        elif action == "reinstate":
            life.student_reinstate(actor=user, student=student)
        elif action == "leave":
            life.student_leave(actor=user, student=student, reason=post.get("reason", ""))
        elif action == "binding-code":
            binding.binding_code_for(student=student, actor=user)
        elif action == "binding-revoke":
            binding.binding_code_revoke(student=student, actor=user)
        elif action == "unlink":
            link = get_object_or_404(GuardianLink, pk=post.get("link"), student=student)
            binding.guardian_unlink(actor=user, link=link)
        else:
            raise Http404
        messages.success(request, tr("已保存", "Saved"))
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        _fail(request, exc)
    return redirect("org:student-detail", pk=student.pk)


@require_POST
@login_required
@pages
def school_promote(request, pk):
    school = get_object_or_404(School.objects.visible_to(request.user), pk=pk)
    try:
        result = life.school_promote(actor=request.user, school=school)
        messages.success(
            request,
            tr(
                f"升级完成：{result['classes_promoted']} 个班升级，{result['graduated']} 名学生毕业",
                f"Promoted: {result['classes_promoted']} classes moved up, {result['graduated']} pupils graduated",
            ),
        )
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        _fail(request, exc)
    return redirect("org:student-list")


@login_required
@pages
def binding_sheet(request, pk):
    klass = get_object_or_404(SchoolClass.objects.visible_to(request.user).select_related("campus__school"), pk=pk)
    pdf = binding.binding_sheet_pdf(school_class=klass, actor=request.user)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="binding-{klass.pk}.pdf"'
    return response


# -- guardian binding (the guardian's phone; may be signed out) ------------------------------


@pages
def guardian_bind(request):
    context = {"code": request.GET.get("code", "")[:20], "relations": Relation.choices}
    if request.method == "POST" and "otp" not in request.POST:
        try:
            challenge = binding.binding_start(
                code=request.POST.get("code", ""),
                mobile=request.POST.get("mobile", ""),
                guardian_name=request.POST.get("name", ""),
                relation=request.POST.get("relation", Relation.OTHER),
            )
            request.session["binding_challenge"] = str(challenge.pk)
            context["challenge"] = challenge
        except DomainError as exc:
            _fail(request, exc)
            context.update({k: request.POST.get(k, "") for k in ("code", "mobile", "name")})
    elif request.method == "POST":
        challenge_id = request.session.get("binding_challenge")
        try:
            link, account = binding.binding_confirm(
                challenge_id=challenge_id,
                otp=request.POST.get("otp", ""),
                user=request.user if request.user.is_authenticated else None,
            )
        except DomainError as exc:
            _fail(request, exc)
            context["challenge"] = BindingChallenge.objects.filter(pk=challenge_id).first()
        else:
            request.session.pop("binding_challenge", None)
            if not request.user.is_authenticated:
                login(request, account, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, tr(f"已绑定 {link.student.name}", f"{link.student.name} is now bound to your account")
            )
            return redirect("home")
    return render(request, "org/guardian_bind.html", context)


# -- staff -----------------------------------------------------------------------------------


@login_required
@pages
def staff_list(request):
    roles = staff.creatable_roles(request.user)
    if not roles:
        raise PermissionDenied
    user = request.user
    if request.method == "POST":
        try:
            campus = Campus.objects.visible_to(user).filter(pk=request.POST.get("campus") or None).first()
            school = School.objects.visible_to(user).filter(pk=request.POST.get("school") or None).first()
            account, password = staff.staff_create(
                actor=user,
                username=request.POST.get("username", ""),
                display_name=request.POST.get("display_name", ""),
                role=request.POST.get("role", ""),
                school=school,
                campus=campus,
                phone=request.POST.get("phone", ""),
            )
            messages.success(
                request,
                tr(
                    f"已创建 {account.username}，初始密码：{password}（仅显示一次）",
                    f"Created {account.username}; first password: {password} (shown once)",
                ),
            )
        except DomainError as exc:
            _fail(request, exc)
        return redirect("org:staff")
    return render(
        request,
        "org/staff_list.html",
        {
            "accounts": staff.staff_visible(actor=user).order_by("school__code", "role", "username"),
            "roles": [(r, Role(r).label) for r in roles],
            "campuses": Campus.objects.visible_to(user).select_related("school").order_by("code"),
            "schools": School.objects.visible_to(user).order_by("code") if Role.SCHOOL_ADMIN in roles else [],
            "campus_roles": sorted(CAMPUS_ROLES),
        },
    )


@require_POST
@login_required
@pages
def staff_active(request, pk):
    account = get_object_or_404(staff.staff_visible(actor=request.user), pk=pk)
    try:
        staff.staff_set_active(actor=request.user, user=account, active=request.POST.get("active") == "1")
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        _fail(request, exc)
    return redirect("org:staff")
