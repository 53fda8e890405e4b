"""Test helpers: invariants every ledger test may assert."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection, transaction
from django.db.models import Sum

from canteen.ledger.models import Account, Entry, Posting


def assert_books_balance() -> None:
    """Every posting balances and every cached balance equals the sum of its entries."""
    unbalanced = Posting.objects.annotate(total=Sum("entries__amount_fen")).exclude(total=0)
    assert list(unbalanced) == []
    sums = dict(Entry.objects.values("account_id").annotate(total=Sum("amount_fen")).values_list("account_id", "total"))
    for account in Account.objects.all():
        cached = account.balance_fen if account.tracks_balance else 0
        assert cached == (sums.get(account.pk, 0) if account.tracks_balance else 0), account.code
        if account.floor_fen is not None:
            assert account.balance_fen >= account.floor_fen, account.code


CRASH_TRIGGER = """
CREATE FUNCTION ledger_test_crash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'crash in the middle of a posting'; END $$;
CREATE TRIGGER ledger_test_crash BEFORE UPDATE ON ledger_account
FOR EACH ROW EXECUTE FUNCTION ledger_test_crash();
"""


def crash_at_the_wallet_update(call: Callable[[], object]) -> None:
    """Run `call` (a meal charge on PostgreSQL) with a trigger that fails the wallet UPDATE, after
    the posting, entries and event rows are inserted. An SQL error aborts the transaction it runs
    in, so this opens one (a caller's transaction that the failure rolls back, trigger included)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(CRASH_TRIGGER)
        call()
