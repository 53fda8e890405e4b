"""The menu board in a real browser: a 1920×1080 screen, a portrait screen and a phone.
Screenshots are kept in var/screenshots/ for people to look at; the assertions read what is
actually visible on the page."""

from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image

from canteen.meals import services
from canteen.meals.choices import SessionKind
from canteen.meals.tests.factories import make_meal_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = (
    Path(settings.PROJECT_DIR if hasattr(settings, "PROJECT_DIR") else settings.BASE_DIR.parent) / "var" / "screenshots"
)


@pytest.fixture
def board_url(world, live_server):
    setup = make_meal_setup(
        world.campuses[0], day=timezone.localdate(), kinds=(SessionKind.BREAKFAST, SessionKind.LUNCH)
    )
    # A long lunch, as real canteens serve (staple, main, vegetable, soup, fruit and milk).
    services.menu_set_entries(
        actor=None,
        campus=setup.campus,
        session=setup.sessions[SessionKind.LUNCH],
        day=timezone.localdate(),
        entries={
            setup.set_meals["A"]: [setup.dishes[d] for d in ("米饭", "番茄炒蛋", "青椒肉丝", "清炒小白菜", "牛奶")],
            setup.set_meals["B"]: [setup.dishes[d] for d in ("米饭", "土豆烧鸡", "花生拌菠菜", "馒头", "牛奶")],
            setup.set_meals["H"]: [setup.dishes[d] for d in ("米饭", "番茄炒蛋", "土豆烧鸡", "清炒小白菜", "牛奶")],
        },
        reason="加牛奶 milk added",
    )
    for dish in setup.dishes.values():
        services.dish_generate_photo(dish=dish)
    board = services.menu_board_ensure(canteen=world.canteens[0])
    return f"{live_server.url}/meals/board/{board.token}/", f"{live_server.url}/meals/m/{board.token}/"


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path))
    return path


def _not_blank(path: Path) -> None:
    image = Image.open(path).convert("RGB").resize((96, 54))
    assert len(set(image.get_flattened_data())) > 50  # a real page, not a blank or single-colour frame


def _images_loaded(page) -> int:
    return page.evaluate("() => [...document.images].filter(i => i.complete && i.naturalWidth > 0).length")


@pytest.mark.parametrize(
    ("width", "height", "name"), [(1920, 1080, "board-1920x1080.png"), (1080, 1920, "board-portrait-1080x1920.png")]
)
def test_big_screen_board(browser, board_url, width, height, name):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.goto(board_url[0] + "?at=12:00")  # lunch is on; breakfast is listed beside it
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("body[data-fitted]")
    _not_blank(_shot(page, name))
    current = page.get_by_test_id("current-session")
    assert current.is_visible()
    for text in ("标准套餐A", "套餐B", "清真套餐", "¥6.00", "¥7.00", "番茄炒蛋", "土豆烧鸡"):
        assert page.get_by_text(text, exact=False).first.is_visible(), text
    # allergens written out, not only icons
    allergens = page.get_by_test_id("allergens").first.inner_text()
    assert "蛋类" in allergens
    assert "含麸质谷物" in allergens
    # photos really load
    assert _images_loaded(page) >= 5
    # readable from a distance: prices at least 40 px high on a 1080-line screen
    price_px = page.get_by_test_id("price").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert price_px >= 40
    # everything on one screen: nothing to scroll, no mouse needed
    assert page.evaluate("() => document.documentElement.scrollHeight") <= height + 2
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 2
    footer_top = page.locator(".board-foot").bounding_box()["y"]
    for box in (page.get_by_test_id("set-meal").nth(i).bounding_box() for i in range(3)):
        assert box["y"] + box["height"] <= footer_top  # nothing hidden behind the footer
    # the other session of the day is listed beside the current one
    assert page.get_by_test_id("other-session").first.is_visible()
    assert "早餐" in page.get_by_test_id("other-session").first.inner_text()
    assert "供餐中" in current.inner_text()
    # the QR code for parents and the live clock
    assert page.get_by_test_id("phone-qr").locator("svg").is_visible()
    assert page.get_by_test_id("clock").inner_text().count(":") == 1
    context.close()


def test_phone_page_for_parents(browser, board_url):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    page.goto(board_url[1])
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("board-title").is_visible()
    assert page.get_by_text("标准套餐A").first.is_visible()
    assert page.get_by_text("¥6.00").first.is_visible()
    sessions = page.get_by_test_id("session")
    assert sessions.count() == 2  # breakfast and lunch
    assert "早餐" in sessions.nth(0).inner_text()
    # fits the phone's width: no sideways scrolling of the page
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
    # text large enough to read on a phone
    size = page.get_by_text("标准套餐A").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 16
    assert "kcal" in page.get_by_test_id("set-meal").first.inner_text()
    assert _images_loaded(page) >= 3
    _not_blank(_shot(page, "board-phone-390x844.png"))
    page.get_by_test_id("set-meal").nth(3).scroll_into_view_if_needed()
    _not_blank(_shot(page, "board-phone-390x844-scrolled.png"))
    context.close()
