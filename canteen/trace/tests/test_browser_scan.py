"""A real browser: a storekeeper prints the label sheet, a parent's phone scans the QR on it,
and the public trace page opens without login."""

import cv2
import pypdfium2 as pdfium
import pytest
from django.core.cache import cache

from canteen.core.qr import decode_qr
from canteen.org.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_scanning_the_printed_label_opens_the_trace_page(journey, live_server, browser, client, settings):
    """The label carries the batch's GS1 Digital Link on the district's resolver (here the test
    server); the resolver sends the phone to the batch's page."""
    settings.CANTEEN_GS1_RESOLVER = live_server.url
    cache.clear()
    client.force_login(journey.world.user(Role.STOREKEEPER))
    pdf = client.get(
        f"/trace/labels.pdf?format=60x40&codes={journey.pork_code.code}", HTTP_HOST=live_server.url.split("//")[1]
    ).content
    image = pdfium.PdfDocument(pdf)[0].render(scale=4).to_numpy()
    url = decode_qr(cv2.cvtColor(image[:, :, :3], cv2.COLOR_RGB2GRAY))
    code = journey.pork_code
    assert url == f"{live_server.url}/01/{code.gtin}/10/{code.lot}"

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = phone.new_page()
    page.goto(url)
    assert page.url == f"{live_server.url}/t/{code.code}"
    assert page.locator("[data-testid=trace-item]").inner_text().startswith("猪肉（后腿）")
    assert page.locator("[data-testid=producer]").inner_text().startswith("荆州市绿源蔬菜基地")
    assert page.locator("[data-testid=cold-chain-break]").is_visible()
    assert page.locator("[data-testid=route-svg]").is_visible()
    assert page.locator("[data-testid=temperature-svg]").is_visible()
    assert "青椒肉丝" in page.locator("[data-testid=lineage]").inner_text()
    # phone-first: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # no login form, no personal data
    body = page.content()
    assert "司机王师傅" not in body
    assert "13912345678" not in body
    assert page.locator("input[name=password]").count() == 0
    phone.close()
