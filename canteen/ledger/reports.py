"""Finance reports: reads over the entries, scoped to the actor, grouped per campus.

All figures are integer fen summed in the database; per-meal figures are rounded to the fen.

Food spending (food_cost_fen) is the FOOD_COST account: deliveries as accepted, net of goods
returned (ledger.food_cost), so the disclosure agrees with procurement whether or not invoices
were typed. The cost per meal is what was issued to the kitchen (procurement's stock issues at
each batch's price) divided by the meals served; the ledger asks procurement, which is installed
after it, through importlib."""

from __future__ import annotations

import importlib
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, Q, Sum

from canteen.org.models import Campus

from .choices import AccountKind, PostingKind
from .models import DEBIT_NORMAL, Entry, PeriodClose, Posting


@dataclass
class CampusFigures:
    campus: Campus
    income_fen: int = 0  # meal revenue, net of voided meals
    top_ups_fen: int = 0
    subsidy_fen: int = 0  # nutrition programme allowance granted
    food_cost_fen: int = 0
    other_cost_fen: int = 0
    meals: int = 0
    issued_cost_fen: int = 0  # food issued to the kitchen, at batch prices

    @property
    def cost_per_meal_fen(self) -> int | None:
        return round(self.issued_cost_fen / self.meals) if self.meals else None

    @property
    def food_share(self) -> float | None:
        """Food spending as a share of meal income (the figure parents look at)."""
        return self.food_cost_fen / self.income_fen if self.income_fen else None


@dataclass
class Report:
    start: date
    end: date
    rows: list[CampusFigures] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.rows)


def issued_cost(campus_ids: list, start: date, end: date) -> dict:
    """Food issued to the kitchen per campus (procurement.selectors.issued_cost_fen), {} when
    procurement is not installed."""
    try:
        selectors = importlib.import_module("canteen.procurement.selectors")
    except ModuleNotFoundError:
        return {}
    return selectors.issued_cost_fen(campus_ids=campus_ids, start=start, end=end)


def _signed(kind: str, total: int) -> int:
    return -total if kind in DEBIT_NORMAL else total


def campus_report(*, actor: Any, start: date, end: date, campus_ids: list | None = None) -> Report:
    campuses = Campus.objects.visible_to(actor).select_related("school").order_by("code")
    if campus_ids:
        campuses = campuses.filter(pk__in=campus_ids)
    by_id = {c.pk: CampusFigures(campus=c) for c in campuses}
    report = Report(start=start, end=end, rows=list(by_id.values()))
    if not by_id:
        return report
    sums = (
        Entry.objects.filter(on__gte=start, on__lte=end, account__campus_id__in=list(by_id))
        .values_list("account__campus_id", "account__kind")
        .annotate(total=Sum("amount_fen"))
    )
    for campus_id, kind, total in sums:
        row = by_id[campus_id]
        value = _signed(kind, total)
        if kind == AccountKind.REVENUE:
            row.income_fen += value
        elif kind == AccountKind.FOOD_COST:
            row.food_cost_fen += value
        elif kind == AccountKind.OTHER_COST:
            row.other_cost_fen += value
        elif kind == AccountKind.SUBSIDY:
            row.subsidy_fen += value
        elif kind in (AccountKind.CASH, AccountKind.BANK, AccountKind.PROVIDER):
            pass  # cash movements are not income; top-ups are counted from postings below
    counts = (
        Posting.objects.filter(on__gte=start, on__lte=end, campus_id__in=list(by_id))
        .values_list("campus_id")
        .annotate(
            meals=Count("id", filter=Q(kind=PostingKind.MEAL_CHARGE)),
            voided=Count("id", filter=Q(kind=PostingKind.MEAL_REVERSE)),
            top_ups=Sum("amount_fen", filter=Q(kind=PostingKind.TOP_UP)),
        )
    )
    for campus_id, meals, voided, top_ups in counts:
        row = by_id[campus_id]
        row.meals = meals - voided
        row.top_ups_fen = top_ups or 0
    for campus_id, fen in issued_cost(list(by_id), start, end).items():
        by_id[campus_id].issued_cost_fen = fen
    return report


@dataclass
class Disclosure:
    """食堂财务公开: one campus canteen, one month, in the words parents read."""

    campus: Campus
    year: int
    month: int
    opening_fen: int  # balance carried forward from earlier months
    income_fen: int
    subsidy_fen: int
    food_cost_fen: int
    other_cost_fen: int
    meals: int
    closed: bool
    issued_cost_fen: int = 0  # food issued to the kitchen, at batch prices

    @property
    def total_income_fen(self) -> int:
        return self.income_fen

    @property
    def spending_fen(self) -> int:
        return self.food_cost_fen + self.other_cost_fen

    @property
    def closing_fen(self) -> int:
        return self.opening_fen + self.income_fen - self.spending_fen

    @property
    def food_share_pct(self) -> str:
        if not self.income_fen:
            return "—"
        return f"{self.food_cost_fen * 100 / self.income_fen:.1f}%"

    @property
    def cost_per_meal_fen(self) -> int | None:
        return round(self.issued_cost_fen / self.meals) if self.meals else None


def _net(campus_id: Any, start: date | None, end: date) -> dict[str, int]:
    qs = Entry.objects.filter(account__campus_id=campus_id, on__lte=end)
    if start is not None:
        qs = qs.filter(on__gte=start)
    kinds = (AccountKind.REVENUE, AccountKind.FOOD_COST, AccountKind.OTHER_COST, AccountKind.SUBSIDY)
    sums = qs.filter(account__kind__in=kinds).values_list("account__kind").annotate(total=Sum("amount_fen"))
    return {kind: _signed(kind, total) for kind, total in sums}


def disclosure_for(*, campus: Campus, year: int, month: int) -> Disclosure:
    """Public: aggregates only, no personal data. Opening balance = all earlier months' income
    less spending; the month's own figures follow."""
    start = date(year, month, 1)
    end = date(year, month, monthrange(year, month)[1])
    before = _net(campus.pk, None, date.fromordinal(start.toordinal() - 1))
    this = _net(campus.pk, start, end)
    opening = (
        before.get(AccountKind.REVENUE, 0)
        - before.get(AccountKind.FOOD_COST, 0)
        - before.get(AccountKind.OTHER_COST, 0)
    )
    meals = Posting.objects.filter(campus=campus, on__gte=start, on__lte=end).aggregate(
        meals=Count("id", filter=Q(kind=PostingKind.MEAL_CHARGE)),
        voided=Count("id", filter=Q(kind=PostingKind.MEAL_REVERSE)),
    )
    closed = PeriodClose.objects.filter(campus=campus, period="month", start=start).exists()
    return Disclosure(
        campus=campus,
        year=year,
        month=month,
        opening_fen=opening,
        income_fen=this.get(AccountKind.REVENUE, 0),
        subsidy_fen=this.get(AccountKind.SUBSIDY, 0),
        food_cost_fen=this.get(AccountKind.FOOD_COST, 0),
        other_cost_fen=this.get(AccountKind.OTHER_COST, 0),
        meals=(meals["meals"] or 0) - (meals["voided"] or 0),
        closed=closed,
        issued_cost_fen=issued_cost([campus.pk], start, end).get(campus.pk, 0),
    )
