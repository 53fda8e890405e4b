"""Consumption demo data: a registered terminal at every window of the first campus, and meal
records made through the checkout service (so the ledger, the events and supervision's rollups
see them exactly as real checkouts) at every demo campus: lunch for 85–95 % of the enrolled
pupils on the last SERVE_DAYS school days."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from canteen.core.errors import DomainError
from canteen.core.money import Money
from canteen.org.demo import DemoContext
from canteen.org.models import Campus, ServingWindow, Student, User

from . import services

# School days served: the last one whose lunch is over and the four before it, about the school
# week of procurement's deliveries, so that food cost per meal divides a week's food by a week's
# lunches (with two days it showed ¥16.91, now ¥6.72). Each day is ~3,700 lunches for the
# 51-campus district through the real checkout (~10 s on SQLite; the whole seed ~80 s); only
# lunch: breakfast and dinner for the boarders would add ~1,600 meals each a day.
# CANTEEN_DEMO_SERVE_DAYS=1 or 2 gives a faster first start.
SERVE_DAYS = max(1, int(os.environ.get("CANTEEN_DEMO_SERVE_DAYS", "5")))
SESSIONS = ("lunch",)
MOMENTS = {"breakfast": (7, 0), "lunch": (11, 45), "dinner": (17, 25)}
LUNCH_OVER = (13, 0)
# Enough for SERVE_DAYS meals of the dearest set meal per served session, with some left over.
TOP_UP_BELOW_FEN = SERVE_DAYS * len(SESSIONS) * 7_00 + 20_00


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

    now = timezone.localtime()
    days = _serve_days(now)
    campuses = list(Campus.objects.filter(pk__in=[c.pk for c in ctx.campuses]).order_by("code"))
    _publish_past_menus(campuses, days, timezone.localdate())
    # guardian01's children always eat, so that the parent's statement has lunches to show.
    children = set(
        Student.objects.filter(guardian_links__guardian__user__username="guardian01").values_list("pk", flat=True)
    )
    batches = [(c, day) for c in campuses for day in days]
    students_by_campus: dict = {}
    for c in campuses:
        students_by_campus[c.pk] = list(Student.objects.filter(campus=c, status="enrolled").order_by("student_number"))
    _ensure_funds([s for group in students_by_campus.values() for s in group])
    from canteen.meals.models import MealSession

    # Only the sessions a campus serves: a try at a session it lacks costs a menu lookup.
    kinds_by_campus: dict = {}
    for campus_id, kind in MealSession.objects.filter(campus__in=campuses).values_list("campus_id", "kind"):
        kinds_by_campus.setdefault(campus_id, set()).add(kind)
    methods: dict = {}
    for campus, day in ctx.progress(batches, desc="消费记录 meal records"):
        students = students_by_campus[campus.pk]
        campus_windows = list(ServingWindow.objects.filter(canteen__campus=campus).order_by("code"))
        if not campus_windows or not students:
            continue
        share = 0.85 + ctx.rng.random() * 0.10
        eaters = [s for s in students if s.pk in children or ctx.rng.random() < share]
        # One transaction per campus-day: every checkout still goes through the service (its
        # own savepoint), but SQLite commits once per batch instead of once per meal.
        with transaction.atomic():
            for kind in SESSIONS:
                if kind not in kinds_by_campus.get(campus.pk, ()):
                    continue
                hour, minute = MOMENTS[kind]
                start = timezone.make_aware(
                    datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)
                )
                for student in eaters:
                    at = start + timedelta(minutes=ctx.rng.randint(0, 30), seconds=ctx.rng.randint(0, 59))
                    if at > now:
                        continue
                    if student.pk not in methods:
                        methods[student.pk] = _method(ctx, student)
                    method, distance = methods[student.pk]
                    window = campus_windows[sum(map(ord, student.student_number)) % len(campus_windows)]
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
                        # No such session at this campus, a day pupil at breakfast, a child's
                        # daily limit: the pupil simply does not eat then.
                        continue


def _serve_days(now: datetime) -> list[date]:
    """The last SERVE_DAYS school days whose lunch is over, oldest first."""
    day = now.date()
    if (now.hour, now.minute) < LUNCH_OVER:
        day -= timedelta(days=1)
    days: list[date] = []
    while len(days) < SERVE_DAYS:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _method(ctx: DemoContext, student: Student) -> tuple[str, float | None]:
    from canteen.identity import selectors as identity_selectors

    if identity_selectors.has_face_consent(student=student):
        return "face", round(0.18 + ctx.rng.random() * 0.12, 4)
    return ("qr" if ctx.rng.random() < 0.7 else "pin"), None


def _ensure_funds(students: list[Student]) -> None:
    """Top the demo wallets up through the ledger where the opening balance would not cover the
    served days (deterministic keys: a second seed does not top up twice)."""
    from canteen.ledger import selectors as ledger_selectors
    from canteen.ledger import services as ledger_services

    for student in students:
        if ledger_selectors.balance_of(student=student).fen >= TOP_UP_BELOW_FEN:
            continue
        ledger_services.top_up(
            student=student,
            amount=Money(200_00),
            channel="cash",
            idempotency_key=f"demo-consumption-topup-{student.pk}",
            actor=None,
        )


def _publish_past_menus(campuses: list[Campus], days: list[date], today: date) -> None:
    """The meals demo publishes this week's menus; days served before this week repeat this
    week's menu of the same weekday (published through meals' own services, like a canteen
    repeating a menu)."""
    from canteen.meals import selectors as meals_selectors
    from canteen.meals import services as meals_services
    from canteen.meals.models import Dish, MealSession, SetMeal

    monday = today - timedelta(days=today.weekday())
    past = [d for d in days if d < monday]
    if not past:
        return
    for campus in campuses:
        for day in past:
            if meals_selectors.menu_for_day(campus=campus, day=day):
                continue
            template = meals_selectors.menu_for_day(campus=campus, day=monday + timedelta(days=day.weekday()))
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
