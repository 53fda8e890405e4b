"""The home page's to-do items of the ledger: a parent's child whose meal balance is below the
alert the parent set (or spent)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from canteen.core.i18n import tr
from canteen.core.money import Money
from canteen.core.todo import URGENT, WARN, Todo

from .selectors import wallets_for_guardian


def todo_items(actor: Any) -> list[Todo]:
    if getattr(actor, "role", "") != "guardian":
        return []
    items: list[Todo] = []
    for child, wallet in wallets_for_guardian(actor=actor):
        if wallet is None:
            continue
        balance = Money(wallet.balance_fen)
        alert = wallet.low_balance_alert_fen
        if wallet.balance_fen <= 0 or (alert is not None and wallet.balance_fen < alert):
            items.append(
                Todo(
                    tr(
                        f"{child.name} 的餐费余额 {balance}，请充值",
                        f"{child.name}'s meal balance is {balance}: top up",
                    ),
                    reverse("ledger:guardian-home"),
                    URGENT if wallet.balance_fen <= 0 else WARN,
                    kind="ledger.balance_low",
                )
            )
    return items
