"""Over the seeded demo, every campus's public disclosure shows food spending equal to its
accepted deliveries of the month (issue 22: it showed ¥0.00 when no invoice had been typed)."""

from collections import defaultdict

import pytest
from django.db.models import Sum
from django.utils import timezone

from canteen.ledger import demo as ledger_demo
from canteen.ledger.reports import disclosure_for
from canteen.ledger.tests.helpers import assert_books_balance
from canteen.org.demo import seed_organisation
from canteen.procurement import demo as procurement_demo
from canteen.procurement.models import Delivery
from canteen.schoolcalendar import demo as calendar_demo

pytestmark = pytest.mark.django_db


def test_every_demo_campus_discloses_its_accepted_deliveries_as_food_spending(capsys):
    ctx = seed_organisation(schools=2, campuses=3, students_per_campus=6)
    calendar_demo.seed(ctx)
    ledger_demo.seed(ctx)
    procurement_demo.seed(ctx)
    accepted: dict[tuple, int] = defaultdict(int)
    for delivery in Delivery.objects.filter(accepted_fen__gt=0):
        day = timezone.localtime(delivery.accepted_at).date()
        accepted[(delivery.campus_id, day.year, day.month)] += delivery.accepted_fen
    assert accepted, "the demo accepts deliveries"
    assert not Delivery.objects.exclude(invoice_reference="").exists()  # no invoice typed in
    for campus in ctx.campuses:
        months = {(y, m) for (cid, y, m) in accepted if cid == campus.pk}
        assert months, campus
        for year, month in months:
            d = disclosure_for(campus=campus, year=year, month=month)
            assert d.food_cost_fen == accepted[(campus.pk, year, month)], (campus, year, month)
            assert d.food_cost_fen > 0
            assert d.food_share_pct  # shown beside the income
    total = Delivery.objects.aggregate(t=Sum("accepted_fen"))["t"]
    assert total == sum(accepted.values())
    assert_books_balance()
