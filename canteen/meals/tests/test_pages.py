"""Staff pages, the weekly report and its PDF, and the public board's access rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from canteen.meals import services
from canteen.meals.tests.factories import make_meal_setup
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def today_setup(world):
    return make_meal_setup(world.campuses[0], day=timezone.localdate())


def test_board_is_public_by_token_and_shows_todays_menu(client, world, today_setup):
    board = services.menu_board_ensure(canteen=world.canteens[0])
    response = client.get(f"/meals/board/{board.token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "标准套餐A" in html
    assert "¥6.00" in html
    assert "番茄炒蛋" in html
    assert "蛋类" in html  # allergen label of eggs
    assert 'http-equiv="refresh"' in html
    assert 'class="topbar"' not in html  # full screen: no site chrome
    assert "<svg" in html  # the QR code for parents
    english = client.get(f"/meals/board/{board.token}/?lang=en", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Today's menu" in english
    chinese = client.get(f"/meals/board/{board.token}/?lang=zh-hans", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "今日菜单" in chinese


def test_wrong_or_rotated_token_is_not_found(client, world, today_setup):
    board = services.menu_board_ensure(canteen=world.canteens[0])
    old = board.token
    assert client.get("/meals/board/not-a-token/").status_code == 404
    services.menu_board_rotate(actor=None, canteen=world.canteens[0])
    assert client.get(f"/meals/board/{old}/").status_code == 404
    board.refresh_from_db()
    assert client.get(f"/meals/m/{board.token}/").status_code == 200


def test_phone_page_lists_the_week_and_refuses_far_days(client, world, today_setup):
    board = services.menu_board_ensure(canteen=world.canteens[0])
    response = client.get(f"/meals/m/{board.token}/")
    html = response.content.decode()
    assert "标准套餐A" in html
    assert "清真套餐" in html
    assert "kcal" in html
    far = timezone.localdate() + timedelta(days=40)
    assert client.get(f"/meals/m/{board.token}/?day={far.isoformat()}").status_code == 404
    assert client.get(f"/meals/m/{board.token}/?day=garbage").status_code == 404


def test_dish_photo_is_served(client, today_setup):
    dish = services.dish_generate_photo(dish=today_setup.dishes["番茄炒蛋"])
    response = client.get(f"/meals/dish/{dish.id}/photo.jpg")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body[:3] == b"\xff\xd8\xff"  # a JPEG


def test_week_page_and_pdf_for_the_canteen_manager(client, world, today_setup):
    client.force_login(world.user(Role.CANTEEN_MANAGER))
    campus = world.campuses[0]
    response = client.get(f"/meals/campus/{campus.id}/week/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "带量食谱" in html
    assert "标准套餐A" in html
    assert "大米 100" in html  # amounts per portion
    pdf = client.get(f"/meals/campus/{campus.id}/week.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert b"STSong-Light" in pdf.content


def test_staff_of_another_campus_cannot_open_it(client, world, today_setup):
    client.force_login(world.user(Role.CANTEEN_MANAGER))  # campus 0
    other = world.campuses[3]
    assert client.get(f"/meals/campus/{other.id}/week/").status_code == 404
    assert client.get(f"/meals/campus/{other.id}/week.pdf").status_code == 404


def test_day_page_shows_flags_and_publishing_from_the_page(client, world):
    setup = make_meal_setup(world.campuses[0], day=timezone.localdate() + timedelta(days=1), publish=False)
    client.force_login(world.user(Role.CANTEEN_MANAGER))
    menu = setup.menus[0]
    day = menu.day.isoformat()
    html = client.get(f"/meals/campus/{setup.campus.id}/day/{day}/").content.decode()
    assert "盐超量" in html
    response = client.post(f"/meals/menu/{menu.id}/publish/")
    assert response.status_code == 302
    menu.refresh_from_db()
    assert menu.status == "published"
    # a window operator may look but not publish
    client.force_login(world.user(Role.WINDOW_OPERATOR))
    assert client.post(f"/meals/menu/{menu.id}/publish/").status_code == 403


def test_editing_a_published_menu_from_the_page_needs_a_reason(client, world, today_setup):
    client.force_login(world.user(Role.CANTEEN_MANAGER))
    menu = today_setup.menus[0]
    a = today_setup.set_meals["A"]
    rice = today_setup.dishes["米饭"]
    response = client.post(f"/meals/menu/{menu.id}/edit/", {f"sm-{a.id}": [str(rice.id)]})
    assert response.status_code == 200
    assert "原因" in response.content.decode()
    menu.refresh_from_db()
    assert menu.version == 1
    response = client.post(f"/meals/menu/{menu.id}/edit/", {f"sm-{a.id}": [str(rice.id)], "reason": "停电"})
    assert response.status_code == 302
    menu.refresh_from_db()
    assert menu.version == 2


def test_forecast_page(client, world, today_setup):
    client.force_login(world.user(Role.CANTEEN_MANAGER))
    html = client.get(
        f"/meals/campus/{world.campuses[0].id}/forecast/?day={timezone.localdate().isoformat()}"
    ).content.decode()
    assert "标准套餐A" in html
    assert "大米" in html


def test_a_parent_sees_the_childs_meals_allergy_warnings_and_reports_sick_leave(client, world, today_setup):
    child = world.students[0]
    child.allergens = ["egg"]
    child.save()
    client.force_login(world.user(Role.GUARDIAN))
    html = client.get("/meals/my/").content.decode()
    assert child.name in html
    assert "标准套餐A" in html
    assert "含孩子过敏的" in html  # 番茄炒蛋 has eggs
    assert "2100 kcal" in html  # a 10-year-old boy: WS/T 554-2017 recommends 2100 kcal a day
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = client.post(
        "/meals/my/", {"student": str(child.id), "start": tomorrow.isoformat(), "end": "", "reason": "发烧"}
    )
    assert response.status_code == 302
    assert child.meal_opt_outs.get().reason == "发烧"
    # not for another family's child, not for the past
    other = world.students[1]
    assert client.post("/meals/my/", {"student": str(other.id), "start": tomorrow.isoformat()}).status_code == 404
    client.post("/meals/my/", {"student": str(child.id), "start": "2020-01-01"})
    assert child.meal_opt_outs.count() == 1


def test_manager_starts_copies_and_publishes_menus_from_the_pages(client, world):
    from canteen.meals.models import Menu

    setup = make_meal_setup(world.campuses[0])
    client.force_login(world.user(Role.CANTEEN_MANAGER))
    day = timezone.localdate() + timedelta(days=1)
    response = client.post(f"/meals/campus/{setup.campus.id}/day/{day.isoformat()}/new/lunch/")
    menu = Menu.objects.get(campus=setup.campus, day=day)
    assert response.status_code == 302
    assert response["Location"] == f"/meals/menu/{menu.id}/edit/"
    start = day - timedelta(days=day.weekday())
    response = client.post(f"/meals/campus/{setup.campus.id}/week/publish/", {"start": start.isoformat()})
    assert response.status_code == 302
    menu.refresh_from_db()
    assert menu.status == "published"
    response = client.post(
        f"/meals/campus/{setup.campus.id}/week/copy/", {"start": (start + timedelta(days=7)).isoformat()}
    )
    assert Menu.objects.filter(campus=setup.campus, day=day + timedelta(days=7), status="draft").exists()
