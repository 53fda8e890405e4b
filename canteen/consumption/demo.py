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
    plan = [(child, today - timedelta(days=back)) for child in children for back in range(DAYS_BACK, -1, -1)]
    plan += [(student, today) for student in others]
    for student, day in ctx.progress(plan, desc="消费记录 meal records"):
        _ensure_funds(student)
        window = _window_for(student, windows)
        for kind, (hour, minute) in MOMENTS.items():
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
