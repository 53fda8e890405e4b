"""Two windows serve the first meals of a campus-day at the same moment, in two transactions:
both are counted, the row is created once, and the district counts the campus-day once."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, transaction

from canteen.supervision import rollups
from canteen.supervision.models import DailyCampusStats, DailyDistrictStats

from . import events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent transactions")
def test_concurrent_first_meals_of_a_campus_day(world):
    campus = world.campuses[0]
    day = date(2026, 3, 9)
    ready = threading.Barrier(4)
    errors: list[BaseException] = []

    def serve(n: int) -> None:
        try:
            ready.wait()
            with transaction.atomic():
                for _ in range(n):
                    events.meal_served(campus, day=day, amount_fen=500)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=serve, args=(3,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rollups.fold_all()
    row = DailyCampusStats.objects.get(day=day, campus_id=campus.pk)
    assert (row.meals_served, row.meals_lunch, row.meal_revenue_fen) == (12, 12, 6000)
    district = DailyDistrictStats.objects.get(day=day, district_id=campus.school.district_id)
    assert (district.meals_served, district.campus_meal_days) == (12, 1)
