"""What a supplier and a store keeper met on day one of the walk (issue 23): a delivery sent
without its QC reports, refused only at the store room's door with a message that printed a
Python dict, and test names shown by their codes ("pesticide_residue")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from canteen.org.choices import Role
from canteen.procurement import services
from canteen.procurement.errors import TraceDataMissing
from canteen.procurement.models import Batch, Delivery

from .factories import batch_line, make_confirmed_order

pytestmark = pytest.mark.django_db


def test_a_delivery_without_its_qc_reports_is_refused_at_dispatch_with_a_readable_message(client, proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "20"), (proc.rice, "2")])
    supplier = proc.user(Role.SUPPLIER_USER)
    with pytest.raises(TraceDataMissing) as exc:
        services.delivery_dispatch(
            actor=supplier, order=order, lines=[batch_line(line, line.quantity, qc=False) for line in order.lines.all()]
        )
    assert exc.value.full_message("zh-hans").count("缺少检验报告") == 2
    assert not Delivery.objects.exists()
    assert not Batch.objects.exists()

    client.force_login(supplier)
    cabbage = order.lines.get(item=proc.cabbage)
    response = client.post(
        reverse("procurement:deliver", args=[order.pk]),
        {
            f"qty-{cabbage.pk}": "20",
            f"batch-{cabbage.pk}": "C-1",
            f"producer-{cabbage.pk}": "荆州市绿源蔬菜基地",
            f"produced-{cabbage.pk}": (timezone.localdate() - timedelta(days=1)).isoformat(),
        },
        follow=True,
    )
    page = response.content.decode()
    assert "大白菜：缺少检验报告" in page
    for leak in ("{'", "'missing'", "qc_report", "lines:"):
        assert leak not in page
    assert not Delivery.objects.exists()


def test_quick_tests_are_shown_by_their_names_on_the_acceptance_form(client, proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "20")])
    line = order.lines.get()
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=order,
        lines=[
            batch_line(
                line,
                "20",
                quick_tests=[{"test": "pesticide_residue", "value": "12.0", "unit": "%", "passed": True}],
            )
        ],
    )
    client.force_login(proc.user(Role.STOREKEEPER))
    page = client.get(reverse("procurement:accept", args=[delivery.pk])).content.decode()
    assert "农药残留" in page
    assert ">pesticide_residue" not in page
    assert " pesticide_residue " not in page
