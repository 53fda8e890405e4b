"""Pages: the public menu board (big screen and phone, by board token), the staff pages (week
menus, day detail with nutrition flags, forecast, dish library) and the weekly report."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from canteen.core.errors import DomainError
from canteen.core.i18n import tr
from canteen.org.choices import Role

from . import forecast as forecast_mod
from . import selectors, services
from .choices import ALLERGEN_ICON, Allergen, Diet
from .models import Dish, Menu

EDITOR_ROLES = {Role.CANTEEN_MANAGER, Role.SCHOOL_ADMIN}
WEEKDAYS = [
    ("周一", "Mon"),
    ("周二", "Tue"),
    ("周三", "Wed"),
    ("周四", "Thu"),
    ("周五", "Fri"),
    ("周六", "Sat"),
    ("周日", "Sun"),
]


def _label(choice_label: str) -> str:
    zh, _, en = choice_label.partition(" ")
    return tr(zh, en or zh)


def allergen_badges(codes: list[str]) -> list[dict]:
    labels = dict(Allergen.choices)
    return [{"code": c, "icon": ALLERGEN_ICON.get(c, "⚠"), "label": _label(labels.get(c, c))} for c in codes]


def _weekday(day: date) -> str:
    return tr(*WEEKDAYS[day.weekday()])


def _parse_day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Http404("bad date") from exc


# ---------------------------------------------------------------- public menu board


def _board_data(board, day: date, now: datetime) -> dict:
    campus = board.canteen.campus
    menus = selectors.menu_for_day(campus=campus, day=day, with_nutrition=True)
    moment = timezone.localtime(now).time()
    current = None
    if day == timezone.localdate(now):
        current = next((m for m in menus if m.serve_start <= moment < m.serve_end), None)
        current = current or next((m for m in menus if m.serve_start > moment), None)
    current = current or (menus[0] if menus else None)
    diets = dict(Diet.choices)
    sessions = []
    for menu in menus:
        sessions.append(
            {
                "menu": menu,
                "label": menu.kind_label,
                "is_current": current is not None and menu.menu_id == current.menu_id,
                "is_serving": day == timezone.localdate(now) and menu.serve_start <= moment < menu.serve_end,
                "set_meals": [
                    {
                        "view": sm,
                        "diet": _label(diets.get(sm.diet, sm.diet)),
                        "allergens": allergen_badges(sm.allergens),
                        "dishes": [{"view": d, "allergens": allergen_badges(d.allergens)} for d in sm.dishes],
                    }
                    for sm in menu.set_meals
                ],
            }
        )
    check = selectors.latest_nutrition_check(campus=campus, day=day)
    return {
        "board": board,
        "canteen": board.canteen,
        "campus": campus,
        "school": campus.school,
        "day": day,
        "weekday": _weekday(day),
        "sessions": sessions,
        "current": next((s for s in sessions if s["is_current"]), None),
        "others": [s for s in sessions if not s["is_current"]],
        "check": check,
        "refresh_seconds": 120,
    }


def _render_in(request: HttpRequest, template: str, data: dict) -> HttpResponse:
    """A screen PC's browser language is often not the school's: `?lang=zh-hans|en` decides."""
    from django.utils import translation

    lang = request.GET.get("lang", "")
    if lang in ("zh-hans", "en"):
        with translation.override(lang):
            return render(request, template, data)
    return render(request, template, data)


def _board_or_404(token: str):
    board = selectors.board_by_token(token=token)
    if board is None:
        raise Http404("board")
    return board


@lru_cache(maxsize=512)
def _qr_svg(url: str) -> str:
    """The parents' QR code (drawing it costs more than the rest of the page: keep it)."""
    import segno

    return segno.make(url, error="m").svg_inline(scale=4, dark="#0d1b2a", light="#f4f1ea", border=2)


@cache_control(max_age=30, public=True)
def board(request: HttpRequest, token: str) -> HttpResponse:
    """The full-screen menu board of a canteen (no login: the token in the URL is the key)."""
    from django.utils.safestring import mark_safe

    now = timezone.now()
    # ?at=HH:MM previews what the screen shows at that time today (menus are public anyway).
    preview = request.GET.get("at", "")
    if preview:
        try:
            moment = time.fromisoformat(preview)
        except ValueError as exc:
            raise Http404("bad time") from exc
        now = timezone.make_aware(datetime.combine(timezone.localdate(), moment))
    data = _board_data(_board_or_404(token), timezone.localdate(), now)
    data["phone_url"] = request.build_absolute_uri(reverse("meals:board-phone", args=[token]))
    # segno writes the SVG itself from the URL we built: safe to inline.
    data["qr_svg"] = mark_safe(_qr_svg(data["phone_url"]))  # noqa: S308
    return _render_in(request, "meals/board.html", data)


@cache_control(max_age=30, public=True)
def board_phone(request: HttpRequest, token: str) -> HttpResponse:
    """The same menu for parents' phones, with the week ahead."""
    board_obj = _board_or_404(token)
    today = timezone.localdate()
    day = _parse_day(request.GET.get("day"), today)
    if abs((day - today).days) > 14:
        raise Http404("day")
    data = _board_data(board_obj, day, timezone.now())
    monday = today - timedelta(days=today.weekday())
    data["week"] = [
        {"day": monday + timedelta(days=i), "weekday": _weekday(monday + timedelta(days=i))} for i in range(7)
    ]
    return _render_in(request, "meals/board_phone.html", data)


@cache_control(max_age=86400, public=True)
def dish_photo(request: HttpRequest, dish_id) -> FileResponse:
    """A dish photo (public: pictures of food, shown on the public board)."""
    dish = get_object_or_404(Dish.objects.only("photo"), pk=dish_id)
    if not dish.photo:
        raise Http404("no photo")
    try:
        handle = dish.photo.open("rb")
    except FileNotFoundError as exc:
        raise Http404("photo missing") from exc
    return FileResponse(handle, content_type="image/jpeg")


# ---------------------------------------------------------------- staff pages


def _campus_for(request: HttpRequest, campus_id=None):
    campuses = selectors.campuses_for(actor=request.user)
    if campus_id is None:
        campus_id = request.GET.get("campus") or getattr(request.user, "campus_id", None)
    campus = campuses.filter(pk=campus_id).first() if campus_id else None
    if campus is None:
        campus = campuses.first()
    if campus is None:
        raise PermissionDenied
    return campus, campuses


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    campus, campuses = _campus_for(request)
    return redirect("meals:week", campus_id=campus.id)


@login_required
def week(request: HttpRequest, campus_id) -> HttpResponse:
    from .report import week_report

    campus, campuses = _campus_for(request, campus_id)
    if campus.id != campus_id:
        raise Http404("campus")
    start = _monday(_parse_day(request.GET.get("start"), timezone.localdate()))
    report = week_report(campus=campus, start=start, actor=request.user)
    board_obj = services.menu_board_ensure(canteen=campus.canteens.first()) if campus.canteens.exists() else None
    return render(
        request,
        "meals/week.html",
        {
            "campus": campus,
            "campuses": campuses[:200],
            "report": report,
            "start": start,
            "prev": start - timedelta(days=7),
            "next": start + timedelta(days=7),
            "board": board_obj,
            "can_edit": request.user.is_superuser or request.user.role in EDITOR_ROLES,
            "print": request.GET.get("print") == "1",
        },
    )


@login_required
def week_pdf(request: HttpRequest, campus_id) -> HttpResponse:
    from .report import week_report, week_report_pdf

    campus, _ = _campus_for(request, campus_id)
    if campus.id != campus_id:
        raise Http404("campus")
    start = _monday(_parse_day(request.GET.get("start"), timezone.localdate()))
    pdf = week_report_pdf(week_report(campus=campus, start=start, actor=request.user))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="menu-{campus.code}-{start.isoformat()}.pdf"'
    return response


@login_required
def day_detail(request: HttpRequest, campus_id, day: str) -> HttpResponse:
    campus, _ = _campus_for(request, campus_id)
    if campus.id != campus_id:
        raise Http404("campus")
    the_day = _parse_day(day, timezone.localdate())
    menus = selectors.menu_for_day(
        campus=campus, day=the_day, actor=request.user, include_drafts=True, with_nutrition=True
    )
    menu_rows = selectors.menus_between(actor=request.user, campus=campus, start=the_day, end=the_day)
    from .nutrition_checks import evaluate_day

    flags, summary = evaluate_day(campus=campus, day=the_day, include_drafts=True)
    return render(
        request,
        "meals/day.html",
        {
            "campus": campus,
            "day": the_day,
            "weekday": _weekday(the_day),
            "menus": [
                {
                    "menu": m,
                    "set_meals": [{"view": sm, "allergens": allergen_badges(sm.allergens)} for sm in m.set_meals],
                }
                for m in menus
            ],
            "menu_rows": menu_rows,
            "flags": flags,
            "age_group": summary["age_group"],
            "check": selectors.latest_nutrition_check(campus=campus, day=the_day),
            "can_edit": request.user.is_superuser or request.user.role in EDITOR_ROLES,
            "missing_sessions": [
                sess
                for sess in selectors.sessions_of(actor=request.user, campus=campus)
                if sess.active and sess.id not in {m.session_id for m in menus}
            ],
        },
    )


@login_required
def menu_edit(request: HttpRequest, menu_id) -> HttpResponse:
    menu = get_object_or_404(
        Menu.objects.visible_to(request.user).select_related("campus__school", "session"), pk=menu_id
    )
    if not (request.user.is_superuser or request.user.role in EDITOR_ROLES):
        raise PermissionDenied
    campus = menu.campus
    set_meals = list(selectors.set_meals_of(actor=request.user, campus=campus))
    dishes = list(selectors.dishes_of(actor=request.user, school_id=campus.school_id))
    current = {(e.set_meal_id, e.dish_id) for e in menu.entries.all()}
    if request.method == "POST":
        by_id = {str(d.id): d for d in dishes}
        entries = {}
        for sm in set_meals:
            chosen = [by_id[i] for i in request.POST.getlist(f"sm-{sm.id}") if i in by_id]
            if chosen:
                entries[sm] = chosen
        try:
            services.menu_set_entries(
                actor=request.user,
                campus=campus,
                session=menu.session,
                day=menu.day,
                entries=entries,
                reason=request.POST.get("reason", ""),
            )
        except DomainError as exc:
            messages.error(request, exc.message(request.LANGUAGE_CODE))
        else:
            messages.success(request, tr("菜单已保存", "Menu saved"))
            return redirect("meals:day", campus_id=campus.id, day=menu.day.isoformat())
    return render(
        request,
        "meals/menu_edit.html",
        {
            "menu": menu,
            "campus": campus,
            "rows": [
                {"set_meal": sm, "dishes": [{"dish": d, "checked": (sm.id, d.id) in current} for d in dishes]}
                for sm in set_meals
            ],
        },
    )


@login_required
@require_POST
def menu_publish(request: HttpRequest, menu_id) -> HttpResponse:
    menu = get_object_or_404(Menu.objects.visible_to(request.user), pk=menu_id)
    if not (request.user.is_superuser or request.user.role in EDITOR_ROLES):
        raise PermissionDenied
    try:
        services.menu_publish(actor=request.user, menu=menu)
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    else:
        messages.success(request, tr("菜单已发布", "Menu published"))
    return redirect("meals:day", campus_id=menu.campus_id, day=menu.day.isoformat())


@login_required
def forecast_view(request: HttpRequest, campus_id) -> HttpResponse:
    campus, _ = _campus_for(request, campus_id)
    if campus.id != campus_id:
        raise Http404("campus")
    day = _parse_day(request.GET.get("day"), timezone.localdate() + timedelta(days=1))
    return render(
        request,
        "meals/forecast.html",
        {
            "campus": campus,
            "day": day,
            "weekday": _weekday(day),
            "set_meals": forecast_mod.forecast_set_meals(campus=campus, day=day),
            "dishes": forecast_mod.forecast_dishes(campus=campus, day=day),
            "demand": forecast_mod.ingredient_demand_detail(campus=campus, day=day),
        },
    )


@login_required
def dish_list(request: HttpRequest) -> HttpResponse:
    campus, campuses = _campus_for(request)
    dishes = selectors.dishes_of(actor=request.user, school_id=campus.school_id)
    from .nutrition import dish_totals

    rows = [
        {"dish": d, "nutrition": dish_totals(d).as_dict(), "allergens": allergen_badges(d.allergens)} for d in dishes
    ]
    return render(request, "meals/dishes.html", {"campus": campus, "campuses": campuses[:200], "rows": rows})


@login_required
def my_menus(request: HttpRequest) -> HttpResponse:
    """For a parent: each child's meals today (what the window will serve them, allergens that
    concern them, energy against the guideline), the canteen's menu page, and sick leave."""
    from canteen.org import selectors as org_selectors

    from . import guideline
    from .forecast import student_set_meals

    if request.method == "POST":
        return _report_leave(request)
    today = timezone.localdate()
    children = []
    # The user's own children (a guardian's links), never every pupil the user may see: an
    # admin opening this page would otherwise render the whole district.
    for student in org_selectors.children_of(guardian_user=request.user).order_by("name"):
        canteen = student.campus.canteens.first()
        board_obj = services.menu_board_ensure(canteen=canteen) if canteen else None
        menus = selectors.menu_for_day(campus=student.campus, day=today, with_nutrition=True)
        eaten = student_set_meals(student=student, day=today, menus=menus)
        meals, energy = [], 0
        for menu in menus:
            sm = eaten.get(menu.kind)
            if sm is None:
                continue
            energy += sm.nutrition["energy_kcal"]
            meals.append(
                {
                    "label": menu.kind_label,
                    "set_meal": sm,
                    "conflicts": allergen_badges([a for a in sm.allergens if a in (student.allergens or [])]),
                }
            )
        group = guideline.age_group(student.age_on(today))
        target, _ = guideline.day_target(group, student.gender)
        children.append(
            {
                "student": student,
                "board": board_obj,
                "meals": meals,
                "energy": energy,
                "target": target,
                "age_group": group,
                "opt_outs": student.meal_opt_outs.filter(end__gte=today).order_by("start")[:5],
            }
        )
    return render(request, "meals/my_menus.html", {"children": children, "today": today})


def _report_leave(request: HttpRequest) -> HttpResponse:
    from canteen.org.models import Student

    student = get_object_or_404(Student.objects.visible_to(request.user), pk=request.POST.get("student"))
    try:
        start = date.fromisoformat(request.POST.get("start", ""))
        end = date.fromisoformat(request.POST.get("end", "") or request.POST.get("start", ""))
    except ValueError:
        messages.error(request, tr("日期有误", "Invalid date"))
        return redirect("meals:my-menus")
    if start < timezone.localdate():
        messages.error(request, tr("不能补报过去的停餐", "Past days cannot be reported"))
        return redirect("meals:my-menus")
    try:
        services.meal_opt_out_create(
            actor=request.user, student=student, start=start, end=end, reason=request.POST.get("reason", "")[:120]
        )
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    else:
        messages.success(
            request, tr("已报停餐，当天不再备餐和扣费", "Reported: no meal is prepared or charged on those days")
        )
    return redirect("meals:my-menus")


@login_required
@require_POST
def menu_new(request: HttpRequest, campus_id, day: str, kind: str) -> HttpResponse:
    """Start a draft menu for a session of a day (from the set meals' default dishes)."""
    if not (request.user.is_superuser or request.user.role in EDITOR_ROLES):
        raise PermissionDenied
    campus, _ = _campus_for(request, campus_id)
    if campus.id != campus_id:
        raise Http404("campus")
    session = get_object_or_404(selectors.sessions_of(actor=request.user, campus=campus), kind=kind)
    menu = services.menu_start_draft(actor=request.user, campus=campus, session=session, day=_parse_day(day, None))
    return redirect("meals:menu-edit", menu_id=menu.id)


@login_required
@require_POST
def week_copy(request: HttpRequest, campus_id) -> HttpResponse:
    """Draft the shown week from the week before (days that have menus are kept)."""
    if not (request.user.is_superuser or request.user.role in EDITOR_ROLES):
        raise PermissionDenied
    campus, _ = _campus_for(request, campus_id)
    if campus.id != campus_id:
        raise Http404("campus")
    target = _monday(_parse_day(request.POST.get("start"), timezone.localdate()))
    copied = services.menu_copy_week(
        actor=request.user, campus=campus, source_monday=target - timedelta(days=7), target_monday=target
    )
    messages.success(
        request, tr(f"已从上周复制 {copied} 份菜单草稿", f"{copied} draft menus copied from the week before")
    )
    return redirect(f"{reverse('meals:week', kwargs={'campus_id': campus.id})}?start={target.isoformat()}")


@login_required
@require_POST
def week_publish(request: HttpRequest, campus_id) -> HttpResponse:
    """Publish every draft of the shown week."""
    if not (request.user.is_superuser or request.user.role in EDITOR_ROLES):
        raise PermissionDenied
    campus, _ = _campus_for(request, campus_id)
    if campus.id != campus_id:
        raise Http404("campus")
    start = _monday(_parse_day(request.POST.get("start"), timezone.localdate()))
    try:
        count = services.menu_publish_week(actor=request.user, campus=campus, start=start)
    except DomainError as exc:
        messages.error(request, exc.message(request.LANGUAGE_CODE))
    else:
        messages.success(request, tr(f"已发布 {count} 份菜单", f"{count} menus published"))
    return redirect(f"{reverse('meals:week', kwargs={'campus_id': campus.id})}?start={start.isoformat()}")
