"""What a parent met on day one of the walk (issue 23): ¥600 for a ¥6.00 meal, "lunch" in the
records, a 9-column table on a phone, and the demo's PIN checkout refused before breakfast
because the seeded lunches of earlier days counted against today's limit."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from canteen.consumption import services
from canteen.core.money import Money
from canteen.ledger import services as ledger_services

from .conftest import fund, guardian_user_of, serve_all_day

pytestmark = pytest.mark.django_db


def test_meals_of_earlier_days_do_not_count_against_todays_daily_limit(world):
    campus, student = world.campuses[0], world.students[0]
    fund(student, "100.00")
    ledger_services.wallet_settings_update(
        student=student, actor=guardian_user_of(student), daily_limit=Money.from_yuan("10.00"), low_balance_alert=None
    )
    today = timezone.localdate()
    earlier = [today - timedelta(days=n) for n in (3, 2, 1)]
    for day in earlier:
        serve_all_day(campus, day)
    serve_all_day(campus)
    # The demo seeds a week of lunches through the checkout, each at its own past moment.
    for day in earlier:
        services.checkout_record(
            student=student,
            method="manual",
            idempotency_key=f"past-{day}",
            actor=None,
            window=world.windows[0],
            at=timezone.make_aware(datetime.combine(day, time(11, 50))),
        )
    # Today's ¥6.00 lunch is within the ¥10.00 limit: the ¥18 of earlier days do not count.
    result = services.checkout_record(
        student=student,
        method="pin",
        idempotency_key=f"today-{uuid.uuid4()}",
        actor=world.user("window_operator"),
        window=world.windows[0],
    )
    assert result.record.price_fen == 600
    from canteen.ledger.models import Posting

    days = sorted(p.on for p in Posting.objects.filter(student=student, kind="meal_charge"))
    assert days == [*earlier, today]


def test_the_meal_records_show_yuan_and_session_labels_as_cards_on_a_phone(world, client):
    campus, student = world.campuses[0], world.students[0]
    serve_all_day(campus)
    fund(student, "20.00")
    services.checkout_record(
        student=student, method="manual", idempotency_key="rec-1", actor=None, window=world.windows[0]
    )
    client.force_login(guardian_user_of(student))
    page = client.get(reverse("consumption:record-list")).content.decode()
    table = page[page.index('data-testid="meal-records"') :]
    assert "¥6.00" in table
    assert "¥600" not in table
    assert "午餐" in table
    assert ">lunch<" not in table
    # On a phone each row is a card: every cell carries its column's name.
    assert 'class="table cards"' in page
    assert 'data-label="金额"' in table

    client.force_login(world.user("canteen_manager"))
    staff = client.get(reverse("consumption:record-list")).content.decode()
    summary = staff[staff.index('data-testid="served-summary"') :]
    assert "午餐 · ¥6.00" in summary
