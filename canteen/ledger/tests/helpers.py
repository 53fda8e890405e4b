"""Test helpers: invariants every ledger test may assert."""

from __future__ import annotations

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
