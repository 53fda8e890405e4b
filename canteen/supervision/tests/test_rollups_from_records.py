"""With consumption's real checkout and void, the rollups equal a direct count of MealRecord,
and the rebuild (counting meal records) finds no difference."""

from __future__ import annotations

import uuid

import pytest

from canteen.org.choices import Role
from canteen.supervision import rollups
from canteen.supervision.models import DailyCampusStats, RollupDelta
from canteen.supervision.rebuild import rollups_rebuild

pytestmark = pytest.mark.django_db


def test_checkout_and_void_move_the_rollups_exactly(world):
    from canteen.consumption import services as consumption
    from canteen.consumption.models import MealRecord
    from canteen.consumption.tests.conftest import fund, serve_all_day

    campus = world.campuses[0]
    serve_all_day(campus)
    operator = world.user(Role.WINDOW_OPERATOR)
    records = []
    for student in world.students[:3]:
        fund(student, "30.00")
        result = consumption.checkout_record(
            student=student,
            method="manual",
            idempotency_key=f"k-{uuid.uuid4()}",
            actor=operator,
            window=world.windows[0],
        )
        records.append(result.record)
    consumption.meal_record_void(record=records[1], actor=operator, reason="错刷")
    # The checkouts appended deltas (3 meals, 3 charges, 1 void) and left the rollup row alone.
    assert RollupDelta.objects.filter(campus_id=campus.pk).count() >= 7
    assert not DailyCampusStats.objects.filter(campus_id=campus.pk, meals_served__gt=0).exists()
    rollups.fold_all()

    row = DailyCampusStats.objects.get(campus_id=campus.pk)
    live = MealRecord.objects.filter(campus=campus, status="served")
    assert row.meals_served == MealRecord.objects.filter(campus=campus).count() == 3
    assert row.meals_voided == 1
    assert row.meal_revenue_fen == sum(r.price_fen for r in live)
    assert row.meals_lunch == live.count() == 2
    report = rollups_rebuild(meals_from="records")
    assert report.ok, [str(d) for d in report.differences]
    # A row someone broke is found by the recount from records.
    DailyCampusStats.objects.filter(pk=row.pk).update(meals_voided=0)
    assert [d.field for d in rollups_rebuild(meals_from="records").differences] == ["meals_voided"]
