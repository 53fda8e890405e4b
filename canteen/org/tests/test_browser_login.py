"""A person signs in with a real browser and finds their way around."""

import pytest

from canteen.org.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_district_regulator_signs_in_navigates_and_switches_language(world, login, page, live_server):
    user = world.user(Role.DISTRICT_REGULATOR)
    login(user.username, "pw-" + user.username)
    assert page.inner_text("[data-testid=count-schools]") == "2"
    assert page.inner_text("[data-testid=count-campuses]") == "4"
    # A regulator's long menu is grouped: the schools page is under 学校.
    assert not page.is_visible("nav.mainnav >> text=学校与校区")
    page.click("nav.mainnav summary >> text=学校")
    page.click("nav.mainnav >> text=学校与校区")
    page.wait_for_selector("[data-testid=school-count]")
    assert "2" in page.inner_text("[data-testid=school-count]")
    assert world.schools[0].name in page.content()
    assert world.schools[2].name not in page.content()  # another district's school
    page.click("[data-testid=lang-switch]")
    page.wait_for_selector("text=Schools and campuses")
    assert page.locator("html").get_attribute("lang") == "en"


def test_wrong_password_shows_a_clear_message(world, page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", world.user(Role.SCHOOL_ADMIN).username)
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.inner_text("[role=alert]") == "用户名或密码错误"


def test_the_phone_layout_has_a_menu_button(world, browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    user = world.user(Role.GUARDIAN)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-" + user.username)
    page.click("button[type=submit]")
    page.wait_for_selector(".menu-toggle")
    assert page.is_visible(".menu-toggle")
    assert not page.is_visible("nav.mainnav")
    page.click(".menu-toggle")
    assert page.is_visible("nav.mainnav")
    context.close()


def test_a_long_menu_folds_into_groups_and_a_short_one_stays_flat(world):
    from canteen.core.navigation import FLAT_MENU_LIMIT, nav_for, nav_menu_for

    regulator = world.user(Role.DISTRICT_REGULATOR)
    menu = nav_menu_for(regulator)
    groups = [entry for entry in menu if "children" in entry]
    assert len(nav_for(regulator)) > FLAT_MENU_LIMIT
    assert menu[0]["url"] == "/"  # Home stays a link of its own, first
    assert [g["label"] for g in groups][:2] == ["学校", "膳食"]
    grouped_urls = [item["url"] for g in groups for item in g["children"]]
    plain_urls = [entry["url"] for entry in menu if "url" in entry]
    assert sorted(grouped_urls + plain_urls) == sorted(item["url"] for item in nav_for(regulator))
    guardian = world.user(Role.GUARDIAN)
    assert all("children" not in entry for entry in nav_menu_for(guardian))
