from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canteen.core.money import Money


def test_money_refuses_floats_and_bools():
    with pytest.raises(TypeError):
        Money(1.5)
    with pytest.raises(TypeError):
        Money(True)
    with pytest.raises(TypeError):
        Money.from_yuan(0.1)


@pytest.mark.parametrize(
    ("text", "fen"), [("12", 1200), ("12.5", 1250), ("12.50", 1250), ("0.01", 1), ("-3.20", -320), (" 7 ", 700)]
)
def test_parse_yuan(text, fen):
    assert Money.from_yuan(text) == Money(fen)


@pytest.mark.parametrize("bad", ["", "1.234", "abc", "1e3", "¥5", "1,000"])
def test_parse_rejects_malformed_amounts(bad):
    with pytest.raises(ValueError, match="yuan"):
        Money.from_yuan(bad)


def test_decimal_with_fraction_of_fen_is_refused():
    assert Money.from_yuan(Decimal("3.10")) == Money(310)
    with pytest.raises(ValueError, match="decimal places"):
        Money.from_yuan(Decimal("3.105"))


def test_display():
    assert str(Money(1250)) == "¥12.50"
    assert Money(-5).yuan == "-0.05"


@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12))
def test_arithmetic_is_exact(a, b):
    assert (Money(a) + Money(b)).fen == a + b
    assert (Money(a) - Money(b) + Money(b)) == Money(a)
    assert Money.from_yuan(Money(a).yuan) == Money(a)
