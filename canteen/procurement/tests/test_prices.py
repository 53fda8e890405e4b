"""Framework prices are versioned: a change closes the previous version the day before and
orders take the price valid on their delivery day."""

from datetime import timedelta

import pytest
from django.utils import timezone

from canteen.core.errors import Conflict
from canteen.core.money import Money
from canteen.org.choices import Role
from canteen.procurement import selectors, services
from canteen.procurement.models import FrameworkPrice

from .factories import regulator_of

pytestmark = pytest.mark.django_db


def test_price_change_is_a_new_version(proc):
    reg = regulator_of(proc.world, proc.world.districts[0])
    today = timezone.localdate()
    change_day = today + timedelta(days=3)
    v2 = services.framework_price_set(
        actor=reg,
        supplier=proc.supplier,
        item=proc.cabbage,
        price=Money.from_yuan("2.80"),
        valid_from=change_day,
        note="季节调价",
    )
    v1 = FrameworkPrice.objects.get(item=proc.cabbage, version=1)
    assert (v1.price_fen, v1.valid_to, v2.version, v2.valid_to) == (250, change_day - timedelta(days=1), 2, None)
    assert services.price_on(supplier=proc.supplier, item=proc.cabbage, day=today).price_fen == 250
    assert services.price_on(supplier=proc.supplier, item=proc.cabbage, day=change_day).price_fen == 280

    manager = proc.user(Role.CANTEEN_MANAGER)
    before = services.order_create(
        actor=manager,
        campus=proc.world.campuses[0],
        supplier=proc.supplier,
        delivery_day=today,
        meal_kind="lunch",
        lines=[{"item": proc.cabbage, "quantity": "10"}],
    )
    after = services.order_create(
        actor=manager,
        campus=proc.world.campuses[0],
        supplier=proc.supplier,
        delivery_day=change_day,
        meal_kind="lunch",
        lines=[{"item": proc.cabbage, "quantity": "10"}],
    )
    assert (before.total_fen, after.total_fen) == (2500, 2800)
    assert [p.version for p in selectors.price_history(actor=manager, item=proc.cabbage)] == [2, 1]

    with pytest.raises(Conflict):  # cannot slip a version in before the current one
        services.framework_price_set(
            actor=reg, supplier=proc.supplier, item=proc.cabbage, price=Money(300), valid_from=today
        )
    with pytest.raises(Exception, match="not allowed"):
        services.framework_price_set(
            actor=manager, supplier=proc.supplier, item=proc.cabbage, price=Money(300), valid_from=change_day
        )


def test_catalogue_lists_current_offers(proc):
    rows = selectors.catalogue(actor=proc.user(Role.CANTEEN_MANAGER))
    offers = {r["item"].name: [o.price_fen for o in r["offers"]] for r in rows}
    assert offers == {"大白菜": [250], "猪肉（后腿）": [2600], "大米": [12000]}
    assert selectors.catalogue(actor=proc.user(Role.GUARDIAN)) == []
