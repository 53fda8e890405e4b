"""On day one of the walk (issue 23) the radio buttons of the public feedback form sat on their
own line above their labels, and the phone menu opened into a tall header: checked here in a
real Chromium on a phone-sized screen."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_radio_buttons_sit_beside_their_labels_on_a_phone(world, page, live_server):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + reverse("supervision:public-feedback", kwargs={"code": world.canteens[0].code}))
    radios = page.locator("input[type=radio]")
    assert radios.count() >= 2
    for i in range(radios.count()):
        radio = radios.nth(i)
        box = radio.bounding_box()
        label = radio.locator("xpath=..").bounding_box()
        assert box["width"] < 40  # not stretched to the form's width
        # On the label's line: the label box is about one line high and holds the radio.
        assert label["height"] < 2.5 * box["height"] + 20
        assert label["y"] <= box["y"] <= label["y"] + label["height"]


def test_the_phone_menu_drops_over_the_page_instead_of_growing_the_header(world, page, login, live_server):
    login("district", "pw-district")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    header = page.locator("header.topbar").bounding_box()["height"]
    page.click(".menu-toggle")
    nav = page.locator("nav.mainnav")
    assert nav.is_visible()
    assert page.locator("header.topbar").bounding_box()["height"] < header + 80  # the account row only
    assert nav.bounding_box()["height"] <= 0.7 * 844 + 1
