"""The big screen in a real Chromium updates by itself when a meal is served at a window.

The meal is served through consumption's own service (canteen.consumption.services.
checkout_record), with a published menu (meals) and a funded wallet (ledger): the rollups are
moved by the real `consumption.meal_served` event inside the checkout's transaction."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from canteen.org.choices import Role
from canteen.supervision import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bigscreen_counts_a_meal_served_at_the_window(world, page, login, live_server):
    from canteen.consumption import services as consumption
    from canteen.consumption.tests.conftest import fund, serve_all_day

    campus = world.campuses[0]
    serve_all_day(campus)
    student = world.students[0]
    fund(student, "50.00")
    services.campus_dim_refresh()

    login("district", "pw-district")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{live_server.url}/supervision/bigscreen/?every=1000")
    counter = page.get_by_test_id("meals-today")
    # Waits through Playwright's own locators: the page's CSP allows no eval, which a string
    # predicate for wait_for_function needs.
    expect(page.locator("#updated")).not_to_be_empty()
    assert counter.inner_text() == "0"
    assert page.locator("header.topbar").count() == 0  # chrome-less

    consumption.checkout_record(
        student=student,
        method="manual",
        idempotency_key=f"bigscreen-{uuid.uuid4()}",
        actor=world.user(Role.WINDOW_OPERATOR),
        window=world.windows[0],
    )
    expect(page.locator("#meals-today")).to_have_text("1", timeout=10_000)
    ranking = page.get_by_test_id("ranking").inner_text()
    assert campus.name in ranking
    assert "33.3%" in ranking  # 1 of 3 enrolled pupils

    # An alarm arriving is shown on the ticker without reloading.
    from . import events

    events.alarm(campus, kind="no_hat")
    expect(page.locator("#live")).to_contain_text("no_hat", timeout=10_000)
