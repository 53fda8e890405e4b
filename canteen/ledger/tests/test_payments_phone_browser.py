"""A parent on a phone tops up through WeChat Pay (H5) in a real browser: choose the child, the
amount, pay at the (local) WeChat cashier, and land on the statement with the new balance; and
when the notification comes after the parent is back, the payment page polls until it is in."""

import pytest
from django.utils import timezone

from canteen.core.money import Money
from canteen.ledger.models import TopUpOrder
from canteen.ledger.payments import wechat
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Role

from .helpers import assert_books_balance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, user_agent=IPHONE, locale="zh-CN", is_mobile=True
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def signed_in(phone, live_server, world, wechat_pay, settings):
    settings.CANTEEN_PAYMENT_NOTIFY_BASE = live_server.url  # where the local WeChat server calls back
    wechat.clear_clients()
    guardian = world.user(Role.GUARDIAN)
    phone.goto(f"{live_server.url}/accounts/login/")
    phone.fill("input[name=username]", guardian.username)
    phone.fill("input[name=password]", "pw-" + guardian.username)
    phone.click("button[type=submit]")
    phone.wait_for_selector("[data-testid=who]", state="attached")
    return phone


def choose_child_and_amount(phone, live_server, child, amount):
    phone.goto(f"{live_server.url}/ledger/guardian/")
    phone.locator(f"[data-testid=child-{child.student_number}]").locator("a[href$='/top-up/']").first.click()
    phone.fill("[data-testid=amount]", amount)
    phone.click("[data-testid=pay]")
    phone.wait_for_selector("[data-testid=pay-amount]")


def test_parent_tops_up_on_a_phone_and_returns_to_the_new_balance(signed_in, live_server, world, wechat_pay):
    phone, child = signed_in, world.students[0]
    choose_child_and_amount(phone, live_server, child, "66.60")
    assert phone.locator("[data-testid=pay-amount]").inner_text() == "¥66.60"
    assert phone.locator("[data-testid=demo-label]").count() == 0
    phone.click("[data-testid=open-provider]")  # to WeChat's H5 cashier
    phone.wait_for_selector("[data-testid=wx-confirm]")
    assert phone.locator("[data-testid=wx-amount]").inner_text() == "¥66.60"
    phone.click("[data-testid=wx-confirm]")  # pays; WeChat notifies us and sends the parent back
    phone.wait_for_url(f"**/ledger/guardian/{child.pk}/")
    assert "¥66.60" in phone.locator("main").inner_text()
    assert balance_of(student=child) == Money(6_660)
    assert TopUpOrder.objects.get().status == "paid"
    assert_books_balance()


def test_the_payment_page_waits_for_a_late_notification(signed_in, live_server, world, wechat_pay):
    phone, child = signed_in, world.students[0]
    wechat_pay.server.hold_notifications = True
    choose_child_and_amount(phone, live_server, child, "20")
    order = TopUpOrder.objects.get()
    # The parent leaves the cashier without paying yet and comes back to the payment page,
    # which says it is waiting.
    phone.wait_for_selector("[data-testid=waiting]")
    # Paid on another device; the notification reaches us later and the page follows.
    wechat_pay.server.pay(order.out_trade_no, deliver=True)
    phone.wait_for_url(f"**/ledger/guardian/{child.pk}/", timeout=15_000)
    assert "¥20.00" in phone.locator("main").inner_text()
    assert balance_of(student=child) == Money(2_000)
    assert timezone.now() >= TopUpOrder.objects.get().paid_at
    assert_books_balance()


def test_the_return_from_the_cashier_queries_when_the_notification_is_lost(signed_in, live_server, world, wechat_pay):
    phone, child = signed_in, world.students[0]
    wechat_pay.server.hold_notifications = True  # WeChat's notification never arrives
    choose_child_and_amount(phone, live_server, child, "15")
    phone.click("[data-testid=open-provider]")
    phone.click("[data-testid=wx-confirm]")
    phone.wait_for_url(f"**/ledger/guardian/{child.pk}/")
    assert balance_of(student=child) == Money(1_500)
    assert wechat_pay.server.notifications_sent == []
