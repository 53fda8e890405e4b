"""Spreadsheet cells from user-entered text (school names, notes) must never become formulas.

openpyxl stores a string that starts with "=" as a formula, and Excel re-evaluates a text cell
that begins with "=", "+", "-" or "@" once it is edited. Such strings are written as string
cells with Excel's quote prefix (the leading apostrophe Excel itself uses for "text")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def xlsx_append(ws: Any, values: Iterable[Any]) -> None:
    """ws.append(values), with every formula-like string written as plain text."""
    values = list(values)
    ws.append([None if is_formula_like(v) else v for v in values])  # set below, as text
    row = ws.max_row
    for column, value in enumerate(values, start=1):
        if is_formula_like(value):
            cell = ws.cell(row=row, column=column)
            cell.value = value
            cell.data_type = "s"
            cell.quotePrefix = True
