"""Roster files for tests and the benchmark: rows in the template's columns, as .xlsx or .csv."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from canteen.org.roster import COLUMNS

HEADERS = [c.header for c in COLUMNS]


def pupil_row(
    number: str,
    name: str,
    campus_code: str,
    *,
    grade: int = 3,
    class_name: str = "三年级1班",
    gender: str = "女",
    birth: str = "2017-04-02",
    boarding: str = "否",
    nutrition: str = "否",
    allergens: str = "",
    diet: str = "",
    guardian: tuple[str, str, str] | None = ("王芳", "母亲", "13800001111"),
    guardian2: tuple[str, str, str] | None = None,
) -> list[str]:
    g1 = guardian or ("", "", "")
    g2 = guardian2 or ("", "", "")
    return [
        number,
        name,
        gender,
        birth,
        str(grade),
        class_name,
        campus_code,
        boarding,
        nutrition,
        allergens,
        diet,
        *g1,
        *g2,
    ]


def xlsx_bytes(rows: Iterable[list], headers: list[str] | None = None) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(headers or HEADERS)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(rows: Iterable[list], headers: list[str] | None = None, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers or HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)
