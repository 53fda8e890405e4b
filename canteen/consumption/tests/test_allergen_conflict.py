"""Allergen conflicts at the window, end to end: a dish's recipe holds peanuts, the menu puts it
in today's default set meal, a pupil declared a peanut allergy; the kiosk (a real browser) turns
red and names the allergen, nothing is charged; the window staff confirm with a reason (or serve
the alternative) on their page; the meal record, the conflict, its audit and its event remain."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from canteen.consumption.models import AllergenConflict, ConflictResolution, MealRecord
from canteen.consumption.terminal.agent import TerminalAgent
from canteen.consumption.terminal.client import ServerClient
from canteen.consumption.terminal.kiosk import KioskServer, KioskState
from canteen.consumption.terminal.store import Store
from canteen.core.models import AuditEvent, OutboxEvent

from .conftest import balance, fund
from .test_checkout_api import URL, _qr, as_terminal

KIOSK_PORT = 22420


def _peanut_in_todays_default_meal(canteen) -> None:
    """Recipe → dish (allergens derived from the ingredients) → today's published menu."""
    from django.utils import timezone

    from canteen.meals import services as meals_services
    from canteen.meals.models import Menu

    dish = meals_services.dish_create(
        actor=None, school=canteen.campus.school, name="花生酱拌面", recipe={"SR20450": 80, "SR16087": 15}
    )
    assert "peanut" in dish.allergens
    entries = {sm: list(sm.dishes.all()) for sm in canteen.set_meals.values()}
    default = next(sm for sm in entries if sm.is_default)
    entries[default] = [*entries[default], dish]
    menu = Menu.objects.get(campus=canteen.campus, day=timezone.localdate())
    meals_services.menu_set_entries(
        actor=None,
        campus=canteen.campus,
        session=menu.session,
        day=menu.day,
        entries=entries,
        reason="加一道面",
    )


def _allergic_pupil(world):
    pupil = world.students[0]
    pupil.allergens = ["peanut"]
    pupil.save()
    fund(pupil, "20.00")
    return pupil


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["one call", "python"])
def test_a_conflicting_meal_is_refused_recorded_and_published_on_both_paths(
    world, canteen, registered_terminal, api_client, settings, path
):
    settings.CANTEEN_CHECKOUT_DB_FUNCTION = path == "one call"
    _terminal, token = registered_terminal
    _peanut_in_todays_default_meal(canteen)
    pupil = _allergic_pupil(world)
    client = as_terminal(api_client, token)
    body = {"method": "qr", "qr_token": _qr(pupil)}
    reply = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="a-1")
    assert reply.status_code == 409, reply.json()
    error = reply.json()["error"]
    assert error["code"] == "allergen_conflict"
    assert error["details"]["allergens"] == ["花生"]
    assert "花生" in error["message_zh"]
    assert error["details"]["alternative_name"]  # the menu has a meal without peanuts
    # The terminal's retry of the same key finds the same conflict; nothing is charged.
    assert client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="a-1").status_code == 409
    conflict = AllergenConflict.objects.get()
    assert conflict.allergens == ["peanut"]
    assert conflict.resolution == ConflictResolution.PENDING
    assert not MealRecord.objects.exists()
    assert balance(pupil) == 2000
    event = OutboxEvent.objects.get(topic="consumption.allergen_conflict")
    assert event.payload == {
        "conflict_id": str(conflict.pk),
        "student_id": str(pupil.pk),
        "campus_id": str(canteen.campus.pk),
        "window_id": str(canteen.window.pk),
        "meal_record_id": None,
        "allergens": ["peanut"],
        "resolution": "pending",
    }
    assert AuditEvent.objects.filter(action="consumption.allergen_conflict", target_id=str(conflict.pk)).exists()


@pytest.mark.django_db
def test_the_staff_serve_the_alternative_meal_and_it_is_charged_at_its_price(world, canteen, operator):
    from canteen.consumption import services
    from canteen.consumption.allergens import allergen_conflict_resolve
    from canteen.consumption.errors import AllergenConflictFound

    _peanut_in_todays_default_meal(canteen)
    pupil = _allergic_pupil(world)
    with pytest.raises(AllergenConflictFound):
        services.checkout_at_window(
            actor=operator,
            terminal=None,
            method="manual",
            idempotency_key="w-1",
            student_id=pupil.pk,
            window_id=canteen.window.pk,
        )
    conflict = AllergenConflict.objects.get()
    resolved = allergen_conflict_resolve(conflict=conflict, actor=operator, action="alternative")
    record = resolved.meal_record
    assert resolved.resolution == ConflictResolution.ALTERNATIVE
    assert record.set_meal_name == conflict.alternative_set_meal_name
    assert "花生酱拌面" not in record.dishes
    assert balance(pupil) == 2000 - record.price_fen
    # Answered once: a second answer is refused.
    from canteen.core.errors import InvalidTransition

    with pytest.raises(InvalidTransition):
        allergen_conflict_resolve(conflict=conflict, actor=operator, action="confirm", reason="again")


@pytest.mark.django_db
def test_a_halal_pupil_is_not_served_a_meal_that_breaks_the_diet_unchecked(world, canteen, operator):
    from django.utils import timezone

    from canteen.consumption import services
    from canteen.consumption.errors import AllergenConflictFound
    from canteen.meals import services as meals_services
    from canteen.meals.models import Menu

    pupil = world.students[0]
    fund(pupil, "20.00")
    meals_services.meal_plan_set(actor=None, student=pupil, diet="halal")
    # Today the halal set meal is off the menu: the default one would have been served.
    menu = Menu.objects.get(campus=canteen.campus, day=timezone.localdate())
    entries = {sm: list(sm.dishes.all()) for sm in canteen.set_meals.values() if sm.diet != "halal"}
    meals_services.menu_set_entries(
        actor=None, campus=canteen.campus, session=menu.session, day=menu.day, entries=entries, reason="清真窗口停供"
    )
    with pytest.raises(AllergenConflictFound) as refused:
        services.checkout_at_window(
            actor=operator,
            terminal=None,
            method="manual",
            idempotency_key="h-1",
            student_id=pupil.pk,
            window_id=canteen.window.pk,
        )
    assert refused.value.details["codes"] == ["diet:halal"]
    assert refused.value.details["allergens"] == ["清真饮食"]
    assert refused.value.details["alternative_name"] == ""  # nothing on the menu keeps the diet
    assert not MealRecord.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_recipe_to_red_kiosk_to_staff_confirmation_to_record(
    world, canteen, registered_terminal, live_server, page, login, tmp_path
):
    _terminal, token = registered_terminal
    _peanut_in_todays_default_meal(canteen)
    pupil = _allergic_pupil(world)
    qr = _qr(pupil)

    # The window terminal with its kiosk page in a real browser.
    state = KioskState()
    kiosk = KioskServer(state, port=KIOSK_PORT)
    kiosk.start()
    agent = TerminalAgent(
        client=ServerClient(live_server.url, token, timeout=5),
        store=Store(tmp_path / "t.sqlite3"),
        kiosk=state,
        token=token,
        cooldown=0,
    )
    agent.start()
    try:
        assert agent.refresh()
        kiosk_page = page.context.new_page()
        kiosk_page.goto(kiosk.url)
        kiosk_page.wait_for_selector("[data-testid=kiosk-idle]")
        assert agent.checkout(student_id="", frame_ts=time.time(), method="qr", qr_token=qr) == "allergen"
        kiosk_page.wait_for_selector("body[data-kind=allergen]")
        assert kiosk_page.inner_text("[data-testid=kiosk-name]") == pupil.name
        assert "花生" in kiosk_page.inner_text("[data-testid=kiosk-conflict]")
        assert "请改供" in kiosk_page.inner_text("[data-testid=kiosk-instead]")
        # The screen fades to red: the final colour, once the transition has run.
        expect(kiosk_page.locator("main")).to_have_css("background-color", "rgb(209, 0, 0)")
        assert not kiosk_page.is_visible("[data-testid=kiosk-price]")
        kiosk_page.screenshot(path=str(tmp_path / "kiosk-allergen.png"))
    finally:
        agent.stop()
        kiosk.stop()
    assert not MealRecord.objects.exists()
    assert balance(pupil) == 2000

    # The window operator sees the conflict and confirms with a reason.
    operator = world.user("window_operator")
    login(operator.username, "pw-" + operator.username)
    page.goto(f"{live_server.url}/consumption/window/")
    card = page.locator("[data-testid=allergen-conflict]")
    assert pupil.name in card.inner_text()
    assert "花生" in card.locator("[data-testid=conflict-allergens]").inner_text()
    card.locator("[data-testid=conflict-reason]").fill("家长来电：今天的面里花生酱可去掉，已单独盛出")
    card.locator("[data-testid=conflict-confirm]").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=allergen-conflict]").count() == 0

    conflict = AllergenConflict.objects.get()
    assert conflict.resolution == ConflictResolution.CONFIRMED
    assert conflict.resolved_by_id == operator.pk
    assert "花生酱" in conflict.reason
    record = MealRecord.objects.get()
    assert conflict.meal_record_id == record.pk
    assert record.student_id == pupil.pk
    assert record.method == "manual"
    assert balance(pupil) == 2000 - record.price_fen
    topics = list(
        OutboxEvent.objects.filter(topic="consumption.allergen_conflict")
        .order_by("id")
        .values_list("payload__resolution", flat=True)
    )
    assert topics == ["pending", "confirmed"]
    assert AuditEvent.objects.filter(action="consumption.allergen_conflict_resolved").count() == 1
