"""Money as integer fen (分). Floats are refused: 0.1 + 0.2 is not 0.3, and a canteen
ledger must add up to the fen."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

_YUAN = re.compile(r"^(?P<sign>-)?(?P<yuan>\d{1,12})(?:\.(?P<fen>\d{1,2}))?$")


@dataclass(frozen=True, slots=True, order=True)
class Money:
    fen: int

    def __post_init__(self) -> None:
        # bool is an int subclass; True fen is a bug, not an amount.
        if isinstance(self.fen, bool) or not isinstance(self.fen, int):
            raise TypeError(f"Money takes integer fen, not {type(self.fen).__name__}")

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    @classmethod
    def from_yuan(cls, value: str | int | Decimal) -> Money:
        """Parse '12.5', '12.50', 12 or Decimal('12.50') yuan; never a float."""
        if isinstance(value, float):
            raise TypeError("Money refuses floats; pass a string such as '12.50'")
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value * 100)
        if isinstance(value, Decimal):
            fen = value * 100
            if fen != fen.to_integral_value():
                raise ValueError(f"{value} has more than two decimal places")
            return cls(int(fen))
        match = _YUAN.match(str(value).strip())
        if not match:
            raise ValueError(f"Not an amount in yuan: {value!r}")
        fen = int(match["yuan"]) * 100 + int((match["fen"] or "0").ljust(2, "0"))
        return cls(-fen if match["sign"] else fen)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.fen + other.fen)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.fen - other.fen)

    def __neg__(self) -> Money:
        return Money(-self.fen)

    def __mul__(self, times: int) -> Money:
        if isinstance(times, bool) or not isinstance(times, int):
            return NotImplemented
        return Money(self.fen * times)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self.fen != 0

    @property
    def yuan(self) -> str:
        """'12.50' — for display and JSON, never for arithmetic."""
        sign = "-" if self.fen < 0 else ""
        whole, fen = divmod(abs(self.fen), 100)
        return f"{sign}{whole}.{fen:02d}"

    def __str__(self) -> str:
        return f"¥{self.yuan}"
