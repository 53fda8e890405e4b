"""A guardian withdraws face consent: the terminal drops the child at its next gallery check,
and the server refuses a face checkout for the child even from a terminal that has not yet."""

from __future__ import annotations

import pytest

from canteen.consumption.models import MealRecord

from .conftest import fund, guardian_user_of
from .terminal_helpers import add_students, enrol_people, queue_states, run_terminal, write_frames

pytestmark = pytest.mark.django_db(transaction=True)


def test_after_withdrawal_the_terminal_no_longer_recognizes_the_child(
    world, canteen, registered_terminal, live_server, tmp_path
):
    from canteen.identity import services as identity_services

    _terminal, token = registered_terminal
    [student] = add_students(canteen.campus, 1)
    enrol_people([student], ["group2"])
    fund(student, "30.00")
    data_dir = tmp_path / "terminal"
    run_terminal(live_server.url, token, data_dir, "--sync-only")  # the gallery with the child

    identity_services.consent_withdraw(student=student, actor=guardian_user_of(student), reason="不再同意")

    frames = write_frames(tmp_path / "frames", ["group2"])
    out = run_terminal(live_server.url, token, data_dir, "--source", str(frames), "--once", "--no-kiosk")
    assert "frame: unknown" in out, out
    assert not MealRecord.objects.exists()
    assert queue_states(data_dir) == {}
