"""The staff and guardian pages of consumption."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse

from canteen.consumption.models import MealRecord, Terminal

from .conftest import fund

pytestmark = pytest.mark.django_db


def test_an_operator_checks_a_student_out_by_pin_at_the_staffed_window(world, canteen, operator, client):
    from canteen.identity import services as identity_services

    student = world.students[0]
    fund(student, "20.00")
    identity_services.pin_set(student=student, pin="730519", actor=operator)
    client.force_login(operator)
    url = reverse("consumption:window-checkout")
    form = {"window": str(canteen.window.pk), "method": "pin", "student_number": student.student_number}
    wrong = client.post(url, {**form, "pin": "000000", "key": "form-1"})
    assert 'data-testid="checkout-error"' in wrong.content.decode()
    assert not MealRecord.objects.exists()
    ok = client.post(url, {**form, "pin": "730519", "key": "form-2"})
    assert student.name in ok.content.decode()
    # The same form submitted twice (a double click) charges once.
    client.post(url, {**form, "pin": "730519", "key": "form-2"})
    assert MealRecord.objects.filter(student=student).count() == 1
    unknown = client.post(url, {**form, "method": "manual", "student_number": "NOBODY", "key": "form-3"})
    assert "未找到该学生" in unknown.content.decode()


def test_a_manager_registers_a_terminal_and_sees_its_token_once(world, canteen, client):
    manager = world.user("canteen_manager")
    client.force_login(manager)
    client.post(
        reverse("consumption:terminal-register"), {"window": str(canteen.window.pk), "offline_limit_yuan": "20"}
    )
    page = client.get(reverse("consumption:terminal-list")).content.decode()
    terminal = Terminal.objects.get()
    assert terminal.offline_limit_fen == 2000
    assert 'data-testid="new-token"' in page
    assert "ct_" + terminal.token_prefix in page
    from canteen.identity.services import terminal_package_key

    assert base64.b64encode(terminal_package_key(campus=canteen.campus)).decode() in page
    again = client.get(reverse("consumption:terminal-list")).content.decode()
    assert 'data-testid="new-token"' not in again
    client.post(reverse("consumption:terminal-deactivate", args=[terminal.pk]))
    terminal.refresh_from_db()
    assert not terminal.is_active


def test_a_guardian_sees_their_childs_meals_and_a_window_operator_cannot_register_terminals(
    world, canteen, operator, client
):
    from canteen.consumption import services

    for student in world.students[:2]:
        fund(student, "20.00")
        services.checkout_record(
            student=student, method="manual", idempotency_key=f"p-{student.pk}", actor=operator, window=canteen.window
        )
    client.force_login(world.user("guardian"))
    page = client.get(reverse("consumption:record-list")).content.decode()
    assert world.students[0].name in page
    assert world.students[1].name not in page
    client.force_login(operator)
    assert client.get(reverse("consumption:terminal-list")).status_code == 403
