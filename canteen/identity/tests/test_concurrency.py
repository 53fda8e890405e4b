"""Races on PostgreSQL: PIN guesses in parallel (several windows, or a script) get no more tries
than the lockout allows, and two taps on "agree" make one consent: both are decided under row
locks."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from canteen.identity import services
from canteen.identity.errors import PinLocked, PinWrong
from canteen.identity.models import PinCredential
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_wrong_pins_lock_after_exactly_the_allowed_number(world):
    student = world.students[0]
    services.pin_set(student=student, pin="4827", actor=world.user(Role.GUARDIAN))
    campus, number = student.campus, student.student_number

    def guess(pin: str) -> str:
        try:
            services.credential_verify_pin(campus=campus, student_number=number, pin=pin)
            return "ok"
        except PinLocked:
            return "locked"
        except PinWrong:
            return "wrong"
        finally:
            connection.close()

    # 12 wrong guesses at once, then the right PIN: it must be refused (locked).
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(guess, [f"{i:04d}" for i in range(1000, 1012)]))
    assert results.count("wrong") == services.PIN_MAX_FAILURES - 1
    assert results.count("locked") == 12 - (services.PIN_MAX_FAILURES - 1)
    assert guess("4827") == "locked"
    assert PinCredential.objects.get(student=student).locked_until is not None


def test_two_taps_on_agree_make_one_consent(world):
    from canteen.identity.errors import ConsentAlreadyGiven
    from canteen.identity.models import FaceConsent

    student = world.students[0]
    parent = world.user(Role.GUARDIAN)

    def agree(_):
        try:
            services.consent_give(student=student, actor=parent)
            return "given"
        except ConsentAlreadyGiven:
            return "exists"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = sorted(pool.map(agree, range(4)))
    assert results == ["exists", "exists", "exists", "given"]
    assert FaceConsent.objects.filter(student=student).count() == 1
