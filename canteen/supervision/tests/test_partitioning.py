from datetime import date

import pytest
from django.db import connection

from canteen.supervision import partitioning

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitioning is PostgreSQL-only")
def test_rollup_tables_are_partitioned_by_month_and_more_months_can_be_added():
    assert partitioning.is_partitioned("supervision_dailycampusstats")
    assert partitioning.is_partitioned("supervision_hourlycampusmeals")
    created = partitioning.ensure_partitions(around=date(2031, 5, 10), months_back=0, months_ahead=1)
    assert created == [
        "supervision_dailycampusstats_203105",
        "supervision_dailycampusstats_203106",
        "supervision_hourlycampusmeals_203105",
        "supervision_hourlycampusmeals_203106",
    ]
    # A second run finds them in place.
    assert partitioning.ensure_partitions(around=date(2031, 5, 10), months_back=0, months_ahead=1) == []
