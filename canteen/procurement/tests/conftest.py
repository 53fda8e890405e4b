from dataclasses import dataclass
from typing import Any

import pytest

from canteen.org.choices import Role
from canteen.procurement.choices import ItemCategory, Storage

from .factories import make_item, make_supplier


@dataclass
class Proc:
    world: Any
    supplier: Any
    cabbage: Any
    pork: Any
    rice: Any

    def user(self, role: str) -> Any:
        return self.world.user(role)


@pytest.fixture
def proc(world):
    """A district with one approved supplier (linked to the world's supplier account) and three
    catalogue items at framework prices."""
    supplier = make_supplier(world, user=world.user(Role.SUPPLIER_USER))
    cabbage = make_item(world, code="V001", name="大白菜", price="2.50", supplier=supplier, shelf_life_days=5)
    pork = make_item(
        world,
        code="M001",
        name="猪肉（后腿）",
        category=ItemCategory.MEAT,
        price="26.00",
        supplier=supplier,
        shelf_life_days=3,
        storage=Storage.CHILLED,
    )
    rice = make_item(
        world,
        code="G001",
        name="大米",
        category=ItemCategory.GRAIN_OIL,
        unit="袋",
        price="120.00",
        supplier=supplier,
        shelf_life_days=365,
    )
    return Proc(world, supplier, cabbage, pork, rice)
