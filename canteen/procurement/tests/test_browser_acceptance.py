"""On a phone, the storekeeper checks a delivery: partial for one line with a reason, accept the
other; the supplier sees the result. A real Chromium, a 390×844 viewport."""

import pytest
from django.utils import timezone

from canteen.org.choices import Role
from canteen.procurement import services
from canteen.procurement.models import Batch

from .factories import batch_line, make_confirmed_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_storekeeper_accepts_on_a_phone(browser, live_server, proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "20"), (proc.rice, "2")])
    services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=order,
        lines=[batch_line(line, line.quantity, number=f"B-{line.item.code}") for line in order.lines.all()],
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    try:
        store = proc.user(Role.STOREKEEPER)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", store.username)
        page.fill("input[name=password]", "pw-" + store.username)
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=who]", state="attached")  # hidden behind ☰ on a phone
        page.goto(f"{live_server.url}/procurement/deliveries/")
        page.click("text=开始验收")
        page.fill("input[name=temperature]", "4.5")
        card = page.locator("[data-testid='check-大白菜']")
        card.locator("input[value=partial]").check()
        card.locator("input[name^=accepted-]").fill("18")
        card.locator("input[name^=reason-]").fill("2kg 黄叶")
        # The form fits the phone: no horizontal scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.click("[data-testid=confirm-acceptance]")
        page.wait_for_selector("text=验收完成")
        cabbage = Batch.objects.get(batch_number="B-V001")
        assert cabbage.status == "partially_accepted"
        assert cabbage.on_hand == 18
        assert Batch.objects.get(batch_number="B-G001").status == "accepted"
        assert timezone.localdate() == cabbage.accepted_at.astimezone(timezone.get_current_timezone()).date()
    finally:
        context.close()
