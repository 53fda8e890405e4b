"""Order suggestions come from the menu's ingredient forecast (meals), converted into each
catalogue item's unit and rounded up."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from canteen.org.choices import Role
from canteen.procurement import selectors

pytestmark = pytest.mark.django_db


def test_menu_forecast_prefills_the_order(client, proc, monkeypatch):
    import canteen.meals.selectors as meals

    day = timezone.localdate() + timedelta(days=1)
    calls = []

    def fake_demand(*, campus, day):
        calls.append((campus, day))
        return [(proc.cabbage.pk, Decimal("12.3"), "kg"), (proc.rice.pk, Decimal("30"), "kg"), (None, Decimal(1), "kg")]

    monkeypatch.setattr(meals, "ingredient_demand", fake_demand)
    campus = proc.world.campuses[0]
    got = selectors.order_suggestions(campus=campus, day=day)
    assert calls == [(campus, day)]
    assert got[str(proc.cabbage.pk)]["quantity"] == Decimal("12.5")
    assert got[str(proc.rice.pk)]["quantity"] == Decimal("2")  # 30 kg in 25 kg bags
    assert got[str(proc.rice.pk)]["kg"] == Decimal("30.000")

    client.force_login(proc.user(Role.CANTEEN_MANAGER))
    page = client.get(reverse("procurement:order-new"), {"day": day.isoformat(), "supplier": proc.supplier.pk})
    html = page.content.decode()
    assert 'value="12.5"' in html
    assert "菜谱需" in html
