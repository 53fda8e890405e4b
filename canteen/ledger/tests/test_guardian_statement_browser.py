"""A parent on a phone opens the statement of their child in a real browser: balance, every
top-up and meal, with the running balance; and sets a daily limit that the window then obeys."""

import pytest

from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.errors import DailyLimitExceeded
from canteen.org.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_guardian_reads_the_statement_and_sets_a_daily_limit(world, page, login, live_server):
    guardian = world.user(Role.GUARDIAN)
    child = world.students[0]
    other = world.students[1]  # not this guardian's child
    services.top_up(student=child, amount=Money(5000), channel="bank", idempotency_key="tb", actor=None)
    services.meal_charge(student=child, amount=Money(650), idempotency_key="m1", campus=child.campus, memo="午餐 套餐A")
    services.meal_charge(student=child, amount=Money(300), idempotency_key="m2", campus=child.campus, memo="早餐")
    services.top_up(student=other, amount=Money(100), channel="cash", idempotency_key="to", actor=None)

    login(guardian.username, "pw-" + guardian.username)
    page.set_viewport_size({"width": 390, "height": 844})  # then read it on a phone
    page.goto(f"{live_server.url}/ledger/guardian/")
    card = page.locator(f"[data-testid=child-{child.student_number}]")
    assert card.locator("[data-testid=balance]").inner_text() == "¥40.50"
    assert page.locator(f"[data-testid=child-{other.student_number}]").count() == 0

    card.locator("[data-testid=statement-link]").click()
    page.wait_for_selector("[data-testid=statement]")
    rows = page.locator("[data-testid=statement] tbody tr")
    assert rows.count() == 3
    texts = [rows.nth(i).inner_text() for i in range(3)]
    assert "早餐" in texts[0]
    assert "-¥3.00" in texts[0]
    assert "¥40.50" in texts[0]
    assert "午餐 套餐A" in texts[1]
    assert "¥43.50" in texts[1]
    assert "+¥50.00" in texts[2]

    # Another child's statement is not reachable by URL.
    response = page.goto(f"{live_server.url}/ledger/guardian/{other.pk}/")
    assert response.status == 404

    page.goto(f"{live_server.url}/ledger/guardian/")
    card = page.locator(f"[data-testid=child-{child.student_number}]")
    card.locator("summary").click()
    card.locator("input[name=daily_limit]").fill("10")
    card.locator("form[action$='/settings/'] button").click()
    page.wait_for_selector(".messages")
    with pytest.raises(DailyLimitExceeded):
        services.meal_charge(student=child, amount=Money(200), idempotency_key="m3", campus=child.campus)


def test_guardian_tops_up_online_through_the_demo_provider(world, page, login, live_server):
    guardian = world.user(Role.GUARDIAN)
    child = world.students[0]
    login(guardian.username, "pw-" + guardian.username)
    page.goto(f"{live_server.url}/ledger/guardian/{child.pk}/top-up/")
    page.fill("[data-testid=amount]", "66.60")
    page.click("[data-testid=pay]")
    page.wait_for_selector("[data-testid=confirm-pay]")
    assert page.inner_text("[data-testid=pay-amount]") == "¥66.60"
    page.click("[data-testid=confirm-pay]")
    page.wait_for_selector("[data-testid=statement]")
    assert page.inner_text("[data-testid=balance]") == "¥66.60"
    assert "+¥66.60" in page.inner_text("[data-testid=statement]")
    page.go_back()  # back on the provider page: it shows paid, and nothing is charged twice
    page.reload()
    assert page.locator("[data-testid=confirm-pay]").count() == 0
