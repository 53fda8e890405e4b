"""Consumption demo data: a registered terminal at every window of the first campus, and meal
records made through the checkout service (so the ledger, the events and supervision's rollups
see them exactly as real checkouts): the last days for guardian01's children, and today's
past sessions for a class of the first campus."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from canteen.core.errors import DomainError
from canteen.core.money import Money
from canteen.org.demo import DemoContext
from canteen.org.models import ServingWindow, Student, User

from . import services

DAYS_BACK = 7
TODAY_STUDENTS = 30
MOMENTS = {"breakfast": (7, 20), "lunch": (12, 5), "dinner": (17, 50)}


def seed(ctx: DemoContext) -> None:
    campus = ctx.campuses[0]
    manager = User.objects.filter(username="canteen01").first()
    windows = list(ServingWindow.objects.filter(canteen__campus=campus).order_by("code"))
    first_token = ""
    for window in windows:
        _terminal, token = services.terminal_register(window=window, actor=manager, code=f"{window.code}-T1")
        first_token = first_token or token
    if first_token:
        ctx.logins.append(("窗口终端令牌 terminal token (CANTEEN_TERMINAL_TOKEN)", first_token, str(windows[0])))

    children = list(Student.objects.filter(guardian_links__guardian__user__username="guardian01").distinct())
    others = list(
        Student.objects.filter(campus=campus, status="enrolled").exclude(pk__in=[c.pk for c in children])[
            :TODAY_STUDENTS
        ]
    )
    now = timezone.now()
    today = timezone.localdate()
    _serve_past_weekdays(children, today)
    # The children's lunches of the last school days (the ledger counts the guardian's daily
    # limit on the day a charge is posted, so a backfill of whole days would hit it), and
    # every session so far today for a class of the first campus.
    school_days = [
        today - timedelta(days=b) for b in range(DAYS_BACK, 0, -1) if (today - timedelta(days=b)).weekday() < 5
    ]
    plan = [(child, day, ("lunch",)) for child in children for day in [*school_days[-4:], today]]
    plan += [(student, today, tuple(MOMENTS)) for student in others]
    for student, day, kinds in ctx.progress(plan, desc="消费记录 meal records"):
        _ensure_funds(student)
        window = _window_for(student, windows)
        for kind in kinds:
            hour, minute = MOMENTS[kind]
            at = timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute))
            at += timedelta(minutes=ctx.rng.randint(0, 25), seconds=ctx.rng.randint(0, 59))
            if at > now or window is None:
                continue
            method, distance = _method(ctx, student)
            try:
                services.checkout_record(
                    student=student,
                    method=method,
                    idempotency_key=f"demo-{student.pk}-{day.isoformat()}-{kind}",
                    actor=None,
                    window=window,
                    at=at,
                    match_distance=distance,
                    match_margin=round(0.2 + ctx.rng.random() * 0.2, 3) if distance else None,
                )
            except DomainError:
                continue  # no menu that day or session, or the student does not eat then


def _window_for(student: Student, windows: list[ServingWindow]) -> ServingWindow | None:
    if windows and student.campus_id == windows[0].canteen.campus_id:
        return windows[sum(map(ord, student.student_number)) % len(windows)]
    return ServingWindow.objects.filter(canteen__campus_id=student.campus_id).order_by("code").first()


def _method(ctx: DemoContext, student: Student) -> tuple[str, float | None]:
    from canteen.identity import selectors as identity_selectors

    if identity_selectors.has_face_consent(student=student):
        return "face", round(0.18 + ctx.rng.random() * 0.12, 4)
    return ("qr" if ctx.rng.random() < 0.7 else "pin"), None


def _ensure_funds(student: Student) -> None:
    """Top the demo wallet up through the ledger when it cannot pay a few days of meals."""
    from canteen.ledger import selectors as ledger_selectors
    from canteen.ledger import services as ledger_services

    if ledger_selectors.balance_of(student=student).fen >= 100_00:
        return
    ledger_services.top_up(
        student=student,
        amount=Money(200_00),
        channel="cash",
        idempotency_key=f"demo-consumption-topup-{student.pk}",
        actor=None,
    )


def _serve_past_weekdays(students: list[Student], today) -> None:
    """The meals demo publishes this week's menus; for the children's statements to have a few
    days of history, last week's school days at their campuses serve this week's Monday menu
    again (published through meals' own services, like a canteen repeating a menu)."""
    from canteen.meals import selectors as meals_selectors
    from canteen.meals import services as meals_services
    from canteen.meals.models import Dish, MealSession, SetMeal

    monday = today - timedelta(days=today.weekday())
    for campus in {s.campus for s in students}:
        template = meals_selectors.menu_for_day(campus=campus, day=monday)
        if not template:
            continue
        for back in range(1, DAYS_BACK + 1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5 or day >= monday or meals_selectors.menu_for_day(campus=campus, day=day):
                continue
            for session_menu in template:
                session = MealSession.objects.get(pk=session_menu.session_id)
                entries = {
                    SetMeal.objects.get(pk=sm.id): list(Dish.objects.filter(pk__in=[d.id for d in sm.dishes]))
                    for sm in session_menu.set_meals
                }
                try:
                    menu = meals_services.menu_set_entries(
                        actor=None, campus=campus, session=session, day=day, entries=entries
                    )
                    meals_services.menu_publish(actor=None, menu=menu)
                except DomainError:
                    continue
