"""Guessing PINs in parallel (several windows, or a script) does not get more tries than the
lockout allows: the failure count is taken under a row lock on PostgreSQL."""

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
