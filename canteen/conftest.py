"""Fixtures shared by every domain's tests."""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made beside
# it are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def world(db):
    from canteen.org.tests.factories import make_world

    return make_world()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def chromium_path() -> str | None:
    from django.conf import settings

    path = settings.CHROMIUM_PATH
    return path if path and shutil.which(path) else None


@pytest.fixture(scope="session")
def browser():
    """A real Chromium (Debian's), driven by Playwright with its executable path."""
    path = chromium_path()
    if path is None:
        pytest.fail("Chromium is not installed: run scripts/setup.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page, live_server):
    """login(username, password) signs in through the real login form."""

    def do_login(username: str, password: str):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=who]")
        return page

    return do_login
