"""A delivery from market to plate, built through procurement's real services: a supplier
dispatches cabbage (ambient) and pork (chilled), the canteen accepts the cabbage and part of the
pork, the truck's device posts its track, and the store issues both batches to lunch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from canteen.org.choices import Role
from canteen.procurement import services as proc
from canteen.procurement.choices import CheckResult, ItemCategory, MealKind, Storage
from canteen.procurement.tests.factories import batch_line, make_confirmed_order, make_item, make_supplier
from canteen.trace import services
from canteen.trace.models import TraceCode


@dataclass
class Journey:
    world: Any
    supplier: Any
    delivery: Any
    cabbage_code: TraceCode
    pork_code: TraceCode
    device: Any
    token: str
    day: Any
    extra: dict = field(default_factory=dict)


def route_points(start_seq: int, start: Any, *, temps: list[float], lat0=30.35, lon0=112.19) -> list[dict]:
    return [
        {
            "seq": start_seq + i,
            "at": (start + timedelta(minutes=5 * i)).isoformat(),
            "lat": round(lat0 + 0.004 * i, 6),
            "lon": round(lon0 + 0.006 * i, 6),
            "temperature_c": t,
            "speed_kmh": 35,
        }
        for i, t in enumerate(temps)
    ]


def staff_for(world: Any, campus: Any) -> None:
    """Point the world's campus-level accounts at `campus` (they are scoped to one campus)."""
    from canteen.org.tests.factories import make_user

    if campus is None or campus.pk == world.campuses[0].pk:
        return
    for role in (Role.CANTEEN_MANAGER, Role.STOREKEEPER):
        world.users[role] = make_user(f"{role}-{campus.code}", role, campus=campus, school=campus.school)


def deliver_and_accept(
    world: Any,
    *,
    campus=None,
    lot_suffix: str = "",
    supplier=None,
    items=None,
    supplier_user=None,
    cabbage_tests: list[dict] | None = None,
) -> dict[str, Any]:
    staff_for(world, campus)
    supplier_user = supplier_user or world.user(Role.SUPPLIER_USER)
    supplier = supplier or make_supplier(world, user=supplier_user)
    if items:
        cabbage, pork = items
    else:
        cabbage = make_item(world, code=f"V1{lot_suffix}", name="大白菜", price="2.50", supplier=supplier)
        pork = make_item(
            world,
            code=f"M1{lot_suffix}",
            name="猪肉（后腿）",
            category=ItemCategory.MEAT,
            price="26.00",
            supplier=supplier,
            shelf_life_days=3,
            storage=Storage.CHILLED,
        )
    day = timezone.localdate()
    order = make_confirmed_order(world, supplier, [(cabbage, "20"), (pork, "10")], campus=campus, day=day)
    lines = {line.item_id: line for line in order.lines.all()}
    delivery = proc.delivery_dispatch(
        actor=supplier_user,
        order=order,
        lines=[
            batch_line(
                lines[cabbage.pk],
                "20",
                number=f"CB-0101{lot_suffix}",
                quick_tests=cabbage_tests or [{"test": "农药残留", "value": "12.5", "unit": "%", "passed": True}],
            ),
            batch_line(lines[pork.pk], "10", number=f"PK-7788{lot_suffix}"),
        ],
        vehicle_plate="鄂D12345",
        driver_name="司机王师傅",
        driver_phone="13912345678",
    )
    keeper = world.user(Role.STOREKEEPER)
    keeper.display_name = "库管李四"  # a name that must never reach the public page
    keeper.save(update_fields=["display_name"])
    proc.delivery_arrive(actor=keeper, delivery=delivery, temperature_c="3.5")
    dl = {line.item_id: line for line in delivery.lines.all()}
    proc.delivery_accept(
        actor=keeper,
        delivery=delivery,
        decisions=[
            {"line": dl[cabbage.pk], "result": CheckResult.ACCEPT},
            {"line": dl[pork.pk], "result": CheckResult.PARTIAL, "accepted_quantity": "8", "reason": "2kg 色泽异常"},
        ],
    )
    return {"supplier": supplier, "delivery": delivery, "cabbage": cabbage, "pork": pork, "day": day}


@pytest.fixture
def journey(world) -> Journey:
    made = deliver_and_accept(world)
    delivery = made["delivery"]
    codes = {c.batch.item_id: c for c in TraceCode.objects.select_related("batch")}
    device, token = services.device_register(
        actor=world.user(Role.DISTRICT_REGULATOR), supplier=made["supplier"], name="冷藏车 鄂D12345"
    )
    start = timezone.now() - timedelta(hours=3)
    # Chilled pork on board: 0–4 °C. Readings 6..9 run warm for 20 minutes: one break.
    temps = [2.5, 3.0, 3.1, 3.4, 3.2, 6.5, 7.8, 8.4, 7.1, 6.0, 3.5, 3.0, 2.8, 2.9]
    services.track_points_record(
        device=device, trip_ref="T1", delivery_id=delivery.pk, points=route_points(1, start, temps=temps)
    )
    keeper = world.user(Role.STOREKEEPER)
    campus = world.campuses[0]
    proc.stock_issue(
        actor=keeper,
        campus=campus,
        item=made["cabbage"],
        quantity="12",
        day=made["day"],
        meal_kind=MealKind.LUNCH,
        dish_name="醋溜白菜",
    )
    proc.stock_issue(
        actor=keeper,
        campus=campus,
        item=made["pork"],
        quantity="5",
        day=made["day"],
        meal_kind=MealKind.LUNCH,
        dish_name="青椒肉丝",
    )
    return Journey(
        world=world,
        supplier=made["supplier"],
        delivery=delivery,
        cabbage_code=codes[made["cabbage"].pk],
        pork_code=codes[made["pork"].pk],
        device=device,
        token=token,
        day=made["day"],
        extra=made,
    )
