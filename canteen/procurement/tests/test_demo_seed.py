"""The demo seed builds a consistent week: stock equals its movements, licences as advertised,
tomorrow's demand visible to the district and the supplier portal populated."""

from datetime import timedelta

import pytest
from django.db.models import Sum

from canteen.org.demo import seed_organisation
from canteen.org.models import User
from canteen.procurement import demo, selectors, services
from canteen.procurement.models import AcceptanceCheck, Batch, Delivery, PurchaseOrder

pytestmark = pytest.mark.django_db


def test_demo_week_is_consistent():
    ctx = seed_organisation(schools=2, campuses=3, students_per_campus=6)
    demo.seed(ctx)
    for batch in Batch.objects.exclude(status="rejected"):
        moved = batch.movements.aggregate(s=Sum("quantity"))["s"]
        assert moved == batch.on_hand, batch
    assert AcceptanceCheck.objects.count() == Batch.objects.count()
    assert Delivery.objects.filter(status="rejected").exists() is False  # refusals only at campus 4 and 19
    standings = [
        services.supplier_standing(supplier=s).code
        for s in selectors.supplier_list(actor=User.objects.get(username="district"))
    ]
    assert standings.count("supplier_licence_expired") == 1
    assert standings.count("") == 11
    alerts = selectors.licence_alerts(actor=User.objects.get(username="district"))
    assert len(alerts["expired"]) == 1
    assert len(alerts["expiring"]) == 1
    tomorrow = PurchaseOrder.objects.order_by("-delivery_day").first().delivery_day
    assert selectors.combined_demand(actor=User.objects.get(username="district"), day=tomorrow)
    supplier_user = User.objects.get(username="supplier01")
    assert selectors.order_list(actor=supplier_user).exists()
    assert (
        selectors.batches_issued(campus=ctx.campuses[0], day=ctx.today - timedelta(days=0)) or ctx.today.weekday() >= 5
    )
