"""Consumption test data: a campus serving lunch all day (so tests pass at any hour), funded
wallets, a registered terminal, and students enrolled with real faces."""

from __future__ import annotations

import time as clock
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import pytest
from django.utils import timezone

from canteen.core.money import Money


@dataclass
class Canteen:
    campus: object
    window: object
    set_meals: dict
    price_fen: int


def wait_clear_of_local_midnight(margin: float = 90.0) -> None:
    """In the last `margin` seconds of the local day, wait for the next one. A test that set up
    today's lunch and then crossed midnight would find a day without a menu, or a terminal
    between sessions, and fail for the clock's reason, not the code's. The tests that serve
    meals take seconds; 90 s is ample."""
    now = timezone.localtime()
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo).timestamp() + 86_400
    left = midnight - now.timestamp()
    if left < margin:
        clock.sleep(left + 1)


def serve_all_day(campus, day=None) -> dict:
    """Lunch from 00:00 to 23:59:59 on `day` (today) with meals' own factories and services."""
    from canteen.meals import services as meals_services
    from canteen.meals.choices import SessionKind
    from canteen.meals.tests.factories import make_meal_setup

    if day is None:
        wait_clear_of_local_midnight()
    day = day or timezone.localdate()
    setup = make_meal_setup(campus, kinds=())
    session = meals_services.meal_session_set(
        actor=None, campus=campus, kind=SessionKind.LUNCH, serve_start=time(0, 0), serve_end=time(23, 59, 59)
    )
    menu = meals_services.menu_set_entries(
        actor=None,
        campus=campus,
        session=session,
        day=day,
        entries={sm: list(sm.dishes.all()) for sm in setup.set_meals.values()},
    )
    meals_services.menu_publish(actor=None, menu=menu)
    return setup.set_meals


def fund(student, yuan: str) -> None:
    from canteen.ledger import services as ledger_services

    ledger_services.top_up(
        student=student,
        amount=Money.from_yuan(yuan),
        channel="cash",
        idempotency_key=f"test-topup-{uuid.uuid4()}",
        actor=None,
    )


def balance(student) -> int:
    from canteen.ledger import selectors as ledger_selectors

    return ledger_selectors.balance_of(student=student).fen


@pytest.fixture
def canteen(world) -> Canteen:
    campus = world.campuses[0]
    set_meals = serve_all_day(campus)
    default = next(sm for sm in set_meals.values() if sm.is_default)
    return Canteen(campus=campus, window=world.windows[0], set_meals=set_meals, price_fen=default.price_fen)


@pytest.fixture
def operator(world):
    return world.user("window_operator")


@pytest.fixture
def registered_terminal(world, canteen):
    from canteen.consumption.services import terminal_register

    terminal, token = terminal_register(window=canteen.window, actor=world.user("canteen_manager"), code="T-TEST-1")
    return terminal, token


def guardian_user_of(student):
    """The guardian account of `student`, created when the world did not give it one."""
    from canteen.org.models import GuardianLink
    from canteen.org.tests.factories import make_user

    guardian = GuardianLink.objects.filter(student=student).select_related("guardian__user").first().guardian
    if guardian.user is None:
        guardian.user = make_user(f"g-{student.student_number}", "guardian")
        guardian.save()
    return guardian.user


def enrol_face(student, jpeg: bytes) -> None:
    """Consent by the guardian, then enrolment from one real photo (identity's services)."""
    from canteen.identity import services as identity_services
    from canteen.identity.models import TemplateSource

    guardian = guardian_user_of(student)
    identity_services.consent_give(student=student, actor=guardian)
    identity_services.face_enrol(student=student, actor=guardian, photos=[jpeg], source=TemplateSource.GUARDIAN_UPLOAD)


@pytest.fixture(params=["one call", "python"])
def checkout_path(request, settings):
    """Run a scenario on both checkout paths: `consumption_checkout` in one database call
    (PostgreSQL) and the Python path (SQLite, or CANTEEN_CHECKOUT_DB_FUNCTION=False)."""
    from django.db import connection

    if request.param == "one call" and connection.vendor != "postgresql":
        pytest.skip("the checkout function exists on PostgreSQL only")
    settings.CANTEEN_CHECKOUT_DB_FUNCTION = request.param == "one call"
    return request.param


def recording(func: Callable[..., Any], answered: list[bool]) -> Callable[..., Any]:
    """`func`, noting in `answered` whether each call returned something: which path a request
    took, for the tests that compare two paths."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        answered.append(result is not None)
        return result

    return wrapper
