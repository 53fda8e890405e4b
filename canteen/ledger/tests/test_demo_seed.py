"""The demo seed leaves balanced books, funded wallets, and the demo guardian's online top-ups."""

import pytest

from canteen.ledger import demo
from canteen.ledger.models import Account, TopUpOrder
from canteen.org.demo import seed_organisation

from .helpers import assert_books_balance

pytestmark = pytest.mark.django_db


def test_demo_seed_funds_every_wallet_and_balances(capsys):
    ctx = seed_organisation(schools=2, campuses=3, students_per_campus=12)
    demo.seed(ctx)
    wallets = Account.objects.filter(kind="wallet")
    assert wallets.count() == 36
    assert not wallets.filter(balance_fen__lte=0).exists()
    assert TopUpOrder.objects.filter(status="paid", guardian_user__username="guardian01").count() == 2
    guardian_wallets = wallets.filter(student__guardian_links__guardian__user__username="guardian01")
    assert set(guardian_wallets.values_list("daily_limit_fen", flat=True)) == {3_000}
    assert_books_balance()
    assert "36 个钱包" in capsys.readouterr().out
