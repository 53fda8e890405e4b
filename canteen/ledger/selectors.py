"""Ledger reads. Actor-facing lists start from `visible_to(actor)`; the two student lookups
used by checkout (`balance_of`, `wallet_of`) are single indexed queries by natural key."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import QuerySet, Sum

from canteen.core.money import Money
from canteen.org.models import Student

from .choices import AccountKind
from .models import Account, Entry, Posting


def wallet_code(student: Student | Any) -> str:
    return f"wallet:{getattr(student, 'pk', student)}"


def balance_of(*, student: Student) -> Money:
    """The wallet balance (zero before the first top-up). One query."""
    fen = Account.objects.filter(code=wallet_code(student)).values_list("balance_fen", flat=True).first()
    return Money(fen or 0)


def wallet_of(*, student: Student) -> Account | None:
    """The student's wallet account, or None before the first posting."""
    return Account.objects.filter(code=wallet_code(student)).first()


def wallets_for_guardian(*, actor: Any) -> list[tuple[Student, Account | None]]:
    from canteen.org.selectors import children_of

    # The actor's own children only: an admin sees every wallet elsewhere, not on this page.
    children = list(children_of(guardian_user=actor).order_by("name")) if actor.is_authenticated else []
    wallets = {
        a.student_id: a
        for a in Account.objects.visible_to(actor).filter(kind=AccountKind.WALLET, student__in=[c.pk for c in children])
    }
    return [(child, wallets.get(child.pk)) for child in children]


def postings_for_student(*, actor: Any, student: Student, limit: int = 200) -> QuerySet[Posting]:
    return (
        Posting.objects.visible_to(actor)
        .filter(student=student)
        .select_related("campus")
        .order_by("-created_at")[:limit]
    )


def statement_lines(*, actor: Any, student: Student, limit: int = 200) -> list[dict[str, Any]]:
    """Wallet movements newest first with the running balance after each."""
    wallet = wallet_of(student=student)
    if wallet is None or not Account.objects.visible_to(actor).filter(pk=wallet.pk).exists():
        return []
    entries = list(
        Entry.objects.filter(account=wallet).select_related("posting").order_by("-posting__created_at", "-id")[:limit]
    )
    balance = wallet.balance_fen
    lines = []
    for entry in entries:
        lines.append(
            {
                "entry": entry,
                "posting": entry.posting,
                "amount_fen": entry.amount_fen,
                "abs_fen": abs(entry.amount_fen),
                "balance_fen": balance,
            }
        )
        balance -= entry.amount_fen
    return lines


def account_entries_sum(*, account: Account) -> int:
    return Entry.objects.filter(account=account).aggregate(total=Sum("amount_fen"))["total"] or 0


def spent_today_fen(*, account: Account, on: date) -> int:
    return account.spent_today_fen if account.spent_on == on else 0
