"""Publishing a menu freezes it as version 1; a change afterwards is recorded, with a reason."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from canteen.core.models import AuditEvent, OutboxEvent
from canteen.meals import selectors, services
from canteen.meals.choices import MenuStatus, SessionKind
from canteen.meals.errors import ChangeReasonRequired, EmptyMenu, WrongCampus
from canteen.meals.models import Menu, MenuVersion
from canteen.meals.tests.factories import make_meal_setup

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 25)
NOON = datetime.combine(DAY, time(12), tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def setup(world):
    return make_meal_setup(world.campuses[0])


def draft(setup, dishes, set_meal="A", reason=""):
    return services.menu_set_entries(
        actor=None,
        campus=setup.campus,
        session=setup.sessions[SessionKind.LUNCH],
        day=DAY,
        entries={setup.set_meals[set_meal]: [setup.dishes[d] for d in dishes]},
        reason=reason,
    )


def test_a_draft_is_invisible_until_published(world, setup):
    menu = draft(setup, ["米饭", "番茄炒蛋"])
    assert menu.status == MenuStatus.DRAFT
    assert menu.version == 0
    assert selectors.menu_for_day(campus=setup.campus, day=DAY) == []
    assert selectors.meal_offer_for(student=world.students[0], at=NOON) is None
    # drafts can be edited freely: no versions yet
    draft(setup, ["米饭", "青椒肉丝"])
    assert MenuVersion.objects.filter(menu=menu).count() == 0

    services.menu_publish(actor=world.user("canteen_manager"), menu=menu)
    menu.refresh_from_db()
    assert (menu.status, menu.version) == (MenuStatus.PUBLISHED, 1)
    v1 = MenuVersion.objects.get(menu=menu)
    assert v1.snapshot == {"标准套餐A": {"price_fen": 600, "dishes": ["米饭", "青椒肉丝"]}}
    assert v1.actor_label == "canteen"
    assert selectors.meal_offer_for(student=world.students[0], at=NOON).dishes == ["米饭", "青椒肉丝"]


def test_changing_a_published_menu_needs_a_reason_and_makes_a_new_version(world, setup):
    menu = services.menu_publish(actor=None, menu=draft(setup, ["米饭", "番茄炒蛋", "清炒小白菜"]))
    with pytest.raises(ChangeReasonRequired):
        draft(setup, ["米饭", "土豆烧鸡", "清炒小白菜"])
    menu.refresh_from_db()
    assert menu.version == 1  # nothing changed
    assert selectors.meal_offer_for(student=world.students[0], at=NOON).dishes == ["米饭", "番茄炒蛋", "清炒小白菜"]

    manager = world.user("canteen_manager")
    services.menu_set_entries(
        actor=manager,
        campus=setup.campus,
        session=setup.sessions[SessionKind.LUNCH],
        day=DAY,
        entries={setup.set_meals["A"]: [setup.dishes[d] for d in ["米饭", "土豆烧鸡", "清炒小白菜"]]},
        reason="鸡蛋未到货 eggs not delivered",
    )
    menu.refresh_from_db()
    assert menu.version == 2
    v2 = MenuVersion.objects.get(menu=menu, version=2)
    assert v2.is_change_after_publish is True
    assert v2.changes == {"标准套餐A": {"added": ["土豆烧鸡"], "removed": ["番茄炒蛋"]}}
    assert v2.reason == "鸡蛋未到货 eggs not delivered"
    assert v2.actor_label == "canteen"
    # version 1 is kept as it was
    assert MenuVersion.objects.get(menu=menu, version=1).snapshot["标准套餐A"]["dishes"] == [
        "米饭",
        "番茄炒蛋",
        "清炒小白菜",
    ]
    # the window and the board see the new menu at once
    offer = selectors.meal_offer_for(student=world.students[0], at=NOON)
    assert offer.dishes == ["米饭", "土豆烧鸡", "清炒小白菜"]
    assert "egg" not in offer.allergens
    # recorded three ways: audit, the announcement again, and a new nutrition check
    audit = AuditEvent.objects.get(action="meals.menu_changed_after_publish")
    assert audit.actor == manager
    assert audit.after["reason"] == "鸡蛋未到货 eggs not delivered"
    event = OutboxEvent.objects.filter(topic="meals.menu_published").latest("id")
    assert event.payload["version"] == 2
    assert event.payload["change_after_publish"] is True
    assert OutboxEvent.objects.filter(topic="meals.nutrition_checked").count() == 2


def test_the_same_content_again_is_not_a_new_version(setup):
    menu = services.menu_publish(actor=None, menu=draft(setup, ["米饭", "番茄炒蛋"]))
    draft(setup, ["米饭", "番茄炒蛋"], reason="no change")
    menu.refresh_from_db()
    assert menu.version == 1
    # publishing twice is harmless
    services.menu_publish(actor=None, menu=menu)
    assert MenuVersion.objects.filter(menu=menu).count() == 1


def test_an_empty_menu_cannot_be_published_or_emptied_after_publishing(setup):
    empty = services.menu_set_entries(
        actor=None, campus=setup.campus, session=setup.sessions[SessionKind.LUNCH], day=DAY, entries={}
    )
    with pytest.raises(EmptyMenu):
        services.menu_publish(actor=None, menu=empty)
    menu = services.menu_publish(actor=None, menu=draft(setup, ["米饭"]))
    with pytest.raises(EmptyMenu):
        services.menu_set_entries(
            actor=None,
            campus=setup.campus,
            session=setup.sessions[SessionKind.LUNCH],
            day=DAY,
            entries={},
            reason="oops",
        )
    menu.refresh_from_db()
    assert menu.entries.count() == 1


def test_another_campus_set_meal_or_session_is_refused(world, setup):
    other = make_meal_setup(world.campuses[2])  # another school
    with pytest.raises(WrongCampus):
        services.menu_set_entries(
            actor=None,
            campus=setup.campus,
            session=setup.sessions[SessionKind.LUNCH],
            day=DAY,
            entries={other.set_meals["A"]: [setup.dishes["米饭"]]},
        )
    with pytest.raises(WrongCampus):
        services.menu_set_entries(
            actor=None,
            campus=setup.campus,
            session=other.sessions[SessionKind.LUNCH],
            day=DAY,
            entries={setup.set_meals["A"]: [setup.dishes["米饭"]]},
        )
    draft_dish = other.dishes["米饭"]
    with pytest.raises(WrongCampus):
        services.menu_set_entries(
            actor=None,
            campus=setup.campus,
            session=setup.sessions[SessionKind.LUNCH],
            day=DAY,
            entries={setup.set_meals["A"]: [draft_dish]},
        )


def test_copying_a_week_drafts_the_next_one_and_keeps_existing_days(world, setup):
    monday = date(2026, 11, 23)
    source = services.menu_publish(
        actor=None,
        menu=services.menu_set_entries(
            actor=None,
            campus=setup.campus,
            session=setup.sessions[SessionKind.LUNCH],
            day=monday,
            entries={setup.set_meals["A"]: [setup.dishes["米饭"], setup.dishes["番茄炒蛋"]]},
        ),
    )
    services.menu_set_entries(
        actor=None,
        campus=setup.campus,
        session=setup.sessions[SessionKind.LUNCH],
        day=date(2026, 11, 24),
        entries={setup.set_meals["B"]: [setup.dishes["馒头"]]},
    )
    draft(setup, ["米饭"])  # DAY, 2026-11-25, a Wednesday
    # next Tuesday already has a menu: it is kept
    kept = services.menu_set_entries(
        actor=None,
        campus=setup.campus,
        session=setup.sessions[SessionKind.LUNCH],
        day=date(2026, 12, 1),
        entries={setup.set_meals["A"]: [setup.dishes["小米粥"]]},
    )
    copied = services.menu_copy_week(
        actor=None, campus=setup.campus, source_monday=monday, target_monday=date(2026, 11, 30)
    )
    assert copied == 2  # Monday and Wednesday; Tuesday kept
    new_monday = Menu.objects.get(campus=setup.campus, day=date(2026, 11, 30))
    assert new_monday.status == MenuStatus.DRAFT
    assert services.menu_snapshot(new_monday) == services.menu_snapshot(source)
    assert services.menu_snapshot(kept) == {"标准套餐A": {"price_fen": 600, "dishes": ["小米粥"]}}
    assert services.menu_publish_week(actor=None, campus=setup.campus, start=date(2026, 11, 30)) == 3
    assert not Menu.objects.filter(campus=setup.campus, status=MenuStatus.DRAFT).exclude(day__lt=date(2026, 11, 30))


def test_a_new_draft_starts_from_the_set_meals_default_dishes(setup):
    menu = services.menu_start_draft(
        actor=None, campus=setup.campus, session=setup.sessions[SessionKind.LUNCH], day=DAY
    )
    snapshot = services.menu_snapshot(menu)
    assert set(snapshot) == {"标准套餐A", "套餐B", "清真套餐"}
    assert sorted(snapshot["套餐B"]["dishes"]) == sorted(["米饭", "土豆烧鸡", "花生拌菠菜"])
    # asking again returns the same draft
    assert (
        services.menu_start_draft(actor=None, campus=setup.campus, session=setup.sessions[SessionKind.LUNCH], day=DAY)
        == menu
    )


def test_set_meal_names_are_unique_per_campus_and_prices_are_money(setup):
    from canteen.core.errors import Conflict
    from canteen.core.money import Money

    with pytest.raises(Conflict):
        services.set_meal_create(actor=None, campus=setup.campus, name="标准套餐A", price=Money(500))
    with pytest.raises(WrongCampus):
        services.set_meal_create(actor=None, campus=setup.campus, name="套餐C", price=5)
    with pytest.raises(WrongCampus):
        services.set_meal_create(actor=None, campus=setup.campus, name="套餐D", price=Money(-1))
