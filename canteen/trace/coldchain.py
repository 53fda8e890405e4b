"""Cold-chain rules: the temperature range each kind of goods must travel in, and finding the
stretches of a trip outside it. Pure functions over (time, temperature) readings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .choices import TempProfile


@dataclass(frozen=True)
class Limits:
    profile: str
    min_c: Decimal | None
    max_c: Decimal | None
    # A short excursion (doors open while unloading) is tolerated; longer ones are breaks.
    tolerance_minutes: int


# GB 31605-2020 (食品冷链物流卫生规范) asks chilled goods at 0–8 °C (meat and aquatic products at
# 0–4 °C) and frozen goods at or below −18 °C, tolerating brief rises to −12 °C while loading.
_CHILLED_STRICT = {"meat", "aquatic"}


def limits_for(*, storage: str, category: str = "") -> Limits:
    if storage == TempProfile.FROZEN:
        return Limits(TempProfile.FROZEN, None, Decimal("-12.0"), 15)
    if storage == TempProfile.CHILLED:
        top = Decimal("4.0") if category in _CHILLED_STRICT else Decimal("8.0")
        return Limits(TempProfile.CHILLED, Decimal("0.0"), top, 10)
    return Limits(TempProfile.AMBIENT, None, None, 0)


def strictest(limits: list[Limits]) -> Limits:
    """A truck carrying several kinds of goods must keep the tightest range of them."""
    if not limits:
        return limits_for(storage=TempProfile.AMBIENT)
    order = {TempProfile.FROZEN: 0, TempProfile.CHILLED: 1, TempProfile.AMBIENT: 2}
    return sorted(limits, key=lambda lim: (order[lim.profile], lim.max_c if lim.max_c is not None else 99))[0]


@dataclass(frozen=True)
class Excursion:
    started_at: datetime
    ended_at: datetime
    worst_c: Decimal
    limit_c: Decimal

    @property
    def minutes(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds() // 60)


def _outside(value: Decimal, limits: Limits) -> Decimal | None:
    if limits.max_c is not None and value > limits.max_c:
        return limits.max_c
    if limits.min_c is not None and value < limits.min_c:
        return limits.min_c
    return None


def find_breaks(readings: list[tuple[datetime, Decimal]], limits: Limits) -> list[Excursion]:
    """Runs of consecutive out-of-range readings (sorted by time) lasting longer than the
    tolerance. A run ends at the first reading back in range, so its length is measured up to
    the moment the goods were seen back inside it."""
    if limits.min_c is None and limits.max_c is None:
        return []
    breaks: list[Excursion] = []
    run: list[tuple[datetime, Decimal, Decimal]] = []

    def close(end: datetime) -> None:
        if not run:
            return
        limit = run[0][2]
        worst = max(run, key=lambda r: abs(r[1] - r[2]))[1]
        excursion = Excursion(run[0][0], end, worst, limit)
        if excursion.minutes > limits.tolerance_minutes:
            breaks.append(excursion)
        run.clear()

    for at, value in sorted(readings, key=lambda r: r[0]):
        limit = _outside(value, limits)
        if limit is None:
            close(at)
        else:
            run.append((at, value, limit))
    if run:
        close(run[-1][0])
    return breaks
