"""集配: the district sees what all its campuses ordered from each supplier for a day."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from canteen.org.choices import Role
from canteen.org.tests.factories import make_user
from canteen.procurement import selectors, services

from .factories import make_item, make_supplier, regulator_of

pytestmark = pytest.mark.django_db


def _order(world, user, campus, supplier, lines, *, submit=True, day=None):
    order = services.order_create(
        actor=user,
        campus=campus,
        supplier=supplier,
        delivery_day=day or timezone.localdate() + timedelta(days=1),
        meal_kind="lunch",
        lines=[{"item": i, "quantity": q} for i, q in lines],
    )
    if submit:
        services.order_submit(actor=user, order=order)
    return order


def test_district_sees_combined_demand_per_supplier_per_day(proc, world):
    day = timezone.localdate() + timedelta(days=1)
    manager = proc.user(Role.CANTEEN_MANAGER)  # campus 0
    campus1 = world.campuses[1]
    manager1 = make_user("mgr-1", Role.CANTEEN_MANAGER, campus=campus1, school=campus1.school)
    fish_supplier = make_supplier(world, name="长江水产")
    fish = make_item(world, code="A001", name="草鱼", category="aquatic", price="15.00", supplier=fish_supplier)

    _order(world, manager, world.campuses[0], proc.supplier, [(proc.cabbage, "20"), (proc.pork, "5")])
    _order(world, manager1, campus1, proc.supplier, [(proc.cabbage, "12.5")])
    _order(world, manager1, campus1, fish_supplier, [(fish, "8")])
    _order(world, manager, world.campuses[0], proc.supplier, [(proc.cabbage, "100")], submit=False)  # a draft
    cancelled = _order(world, manager1, campus1, proc.supplier, [(proc.rice, "3")])
    services.order_cancel(actor=manager1, order=cancelled, reason="重复")
    _order(world, manager, world.campuses[0], proc.supplier, [(proc.cabbage, "7")], day=day + timedelta(days=1))

    reg = regulator_of(world, world.districts[0])
    demand = {s["supplier"]: s for s in selectors.combined_demand(actor=reg, day=day)}
    assert set(demand) == {proc.supplier.name, fish_supplier.name}
    veg = demand[proc.supplier.name]
    rows = {r["item"]: r for r in veg["items"]}
    assert rows["大白菜"]["quantity"] == Decimal("32.5")
    assert rows["大白菜"]["campuses"] == 2
    assert rows["大白菜"]["orders"] == 2
    assert rows["猪肉（后腿）"]["quantity"] == Decimal("5")
    assert "大米" not in rows  # cancelled
    assert veg["campuses"] == 2
    assert veg["amount_fen"] == int(Decimal("32.5") * 250) + 5 * 2600
    assert demand[fish_supplier.name]["items"][0]["quantity"] == Decimal("8")

    # Scope: the other district sees nothing; the supplier sees only its own demand;
    # a campus sees only its own orders.
    assert selectors.combined_demand(actor=regulator_of(world, world.districts[1]), day=day) == []
    own = selectors.combined_demand(actor=proc.user(Role.SUPPLIER_USER), day=day)
    assert [s["supplier"] for s in own] == [proc.supplier.name]
    mine = selectors.combined_demand(actor=manager, day=day)
    assert {r["item"]: r["quantity"] for r in mine[0]["items"]} == {
        "大白菜": Decimal("20"),
        "猪肉（后腿）": Decimal("5"),
    }
    picks = selectors.combined_demand_by_campus(actor=proc.user(Role.SUPPLIER_USER), day=day, supplier=proc.supplier)
    assert len({p["order__campus__code"] for p in picks}) == 2
