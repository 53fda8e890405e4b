"""Ledger fixtures."""

import pytest
from django.db import connection


@pytest.fixture(params=["db", "python"])
def ledger_path(request, settings):
    """Run a test on both meal-charge paths: the PostgreSQL function and the Python path that
    SQLite uses (forced on PostgreSQL by CANTEEN_LEDGER_DB_FUNCTIONS=False)."""
    if request.param == "db" and connection.vendor != "postgresql":
        pytest.skip("the ledger_meal_charge function exists on PostgreSQL only")
    settings.CANTEEN_LEDGER_DB_FUNCTIONS = request.param == "db"
    return request.param
