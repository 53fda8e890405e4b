"""`canteen up` seeds an empty database with the demo; on PostgreSQL it crashed after minutes
(select_for_update outside a transaction in supervision) and left a half-seeded database. The
tests run inside a transaction, which hid it: this one runs the seed as `up` does, outside any."""

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_small_demo_seed_runs_on_an_empty_database_outside_any_transaction():
    from canteen.org.models import District
    from canteen.supervision.models import Case

    assert not District.objects.exists()
    assert connection.get_autocommit(), "the seed must run as `canteen up` runs it: in autocommit mode"
    call_command("demo_seed", schools=3, campuses=5, students_per_campus=4, verbosity=0)

    assert District.objects.count() == 1
    # The last domain's demo data is there: the seed ran to its end.
    # With five campuses the fifth has a delivery turned away at the gate: its case was opened
    # through the path that locked a row outside a transaction.
    assert Case.objects.filter(source="delivery_rejected").exists()
