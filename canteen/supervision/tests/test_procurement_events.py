"""Deliveries accepted and rejected through procurement's own services move the rollups
(spend by supplier and food category, accepted/rejected counts) and open cases."""

from __future__ import annotations

import pytest

from canteen.org.choices import Role
from canteen.procurement import services as procurement
from canteen.procurement.services import LineDecision
from canteen.procurement.tests.conftest import proc  # noqa: F401 - procurement's own fixture
from canteen.procurement.tests.factories import batch_line, make_confirmed_order
from canteen.supervision.choices import CaseSource
from canteen.supervision.models import Case, DailyCampusStats, DailySpend, DistrictSpend
from canteen.supervision.rebuild import rollups_rebuild

pytestmark = pytest.mark.django_db


def deliver(proc):  # noqa: F811
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "40"), (proc.pork, "12")])
    delivery = procurement.delivery_dispatch(
        actor=proc.world.user(Role.SUPPLIER_USER),
        order=order,
        lines=[
            batch_line(order.lines.get(item=proc.cabbage), "40", number="BC-1"),
            batch_line(order.lines.get(item=proc.pork), "12", number="PK-1"),
        ],
        vehicle_plate="鄂D·12345",
    )
    procurement.delivery_arrive(actor=proc.world.user(Role.STOREKEEPER), delivery=delivery, temperature_c="4.0")
    return delivery


def test_a_partly_rejected_delivery_counts_spend_by_category_and_opens_a_case(proc):  # noqa: F811
    delivery = deliver(proc)
    procurement.delivery_accept(
        actor=proc.world.user(Role.STOREKEEPER),
        delivery=delivery,
        decisions=[
            LineDecision(line=delivery.lines.get(item=proc.cabbage), result="accept"),
            {"line": str(delivery.lines.get(item=proc.pork).pk), "result": "reject", "reason": "温度超标"},
        ],
    )
    row = DailyCampusStats.objects.get(campus_id=delivery.campus_id)
    assert row.deliveries_accepted == 1
    assert row.delivery_accepted_fen == 40 * 250
    spend = {s.category: s.amount_fen for s in DailySpend.objects.all()}
    assert spend == {"vegetable": 40 * 250}
    assert DistrictSpend.objects.get().amount_fen == 40 * 250
    case = Case.objects.get(source=CaseSource.DELIVERY_REJECTED)
    assert case.source_ref == str(delivery.pk)
    assert "温度超标" in case.description
    assert rollups_rebuild(meals_from="events").ok


def test_a_delivery_rejected_line_by_line_counts_as_rejected(proc):  # noqa: F811
    delivery = deliver(proc)
    procurement.delivery_accept(
        actor=proc.world.user(Role.STOREKEEPER),
        delivery=delivery,
        decisions=[{"line": str(line.pk), "result": "reject", "reason": "无检疫证明"} for line in delivery.lines.all()],
    )
    row = DailyCampusStats.objects.get(campus_id=delivery.campus_id)
    assert (row.deliveries_accepted, row.deliveries_rejected, row.delivery_accepted_fen) == (0, 1, 0)
    case = Case.objects.get(source=CaseSource.DELIVERY_REJECTED)
    assert "无检疫证明" in case.description
    assert not DailySpend.objects.exists()


def test_deliveries_written_without_events_are_recounted_from_procurement_records(proc):  # noqa: F811
    delivery = deliver(proc)
    procurement.delivery_accept(
        actor=proc.world.user(Role.STOREKEEPER),
        delivery=delivery,
        decisions=[{"line": str(line.pk), "result": "accept"} for line in delivery.lines.all()],
    )
    # As if procurement's bulk demo had written the delivery: no rollups at all.
    DailyCampusStats.objects.all().delete()
    DailySpend.objects.all().delete()
    DistrictSpend.objects.all().delete()
    from canteen.supervision.models import DailyDistrictStats

    DailyDistrictStats.objects.all().delete()
    report = rollups_rebuild(meals_from="events")
    assert report.deliveries_from == "records"
    assert {d.field for d in report.differences} >= {"deliveries_accepted", "delivery_accepted_fen", "amount_fen"}
    assert rollups_rebuild(meals_from="events", apply=True).applied
    row = DailyCampusStats.objects.get(campus_id=delivery.campus_id)
    assert (row.deliveries_accepted, row.delivery_accepted_fen, row.batches_accepted) == (1, 40 * 250 + 12 * 2600, 2)
    assert {s.category: s.amount_fen for s in DailySpend.objects.all()} == {"vegetable": 40 * 250, "meat": 12 * 2600}
    assert set(DailySpend.objects.values_list("supplier_name", flat=True)) == {proc.supplier.name}
    assert set(DistrictSpend.objects.values_list("supplier_name", flat=True)) == {proc.supplier.name}
    assert DailyDistrictStats.objects.get().deliveries_accepted == 1
    assert rollups_rebuild(meals_from="events").ok
