"""Demo school calendar: each demo district's terms and vacations around today (the usual
pattern: autumn term from 1 September to late January, winter vacation to late February,
spring term to early July, summer vacation), the end-of-term exam days, and one school's
closure day (a sports meeting), so that grants, menus and dashboards skip what real ones skip."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .choices import EntryKind
from .models import CalendarEntry


def district_year(district: Any, year: int) -> list[CalendarEntry]:
    """The calendar of the school year that starts in September of `year`."""
    y1 = year + 1
    rows = [
        (EntryKind.TERM, f"{year}-{y1} 学年第一学期", dt.date(year, 9, 1), dt.date(y1, 1, 22)),
        (EntryKind.EXAM, "期末考试 Final exams", dt.date(y1, 1, 18), dt.date(y1, 1, 20)),
        (EntryKind.VACATION, "寒假 Winter vacation", dt.date(y1, 1, 23), dt.date(y1, 2, 21)),
        (EntryKind.TERM, f"{year}-{y1} 学年第二学期", dt.date(y1, 2, 22), dt.date(y1, 7, 9)),
        (EntryKind.EXAM, "期末考试 Final exams", dt.date(y1, 7, 6), dt.date(y1, 7, 8)),
        (EntryKind.VACATION, "暑假 Summer vacation", dt.date(y1, 7, 10), dt.date(y1, 8, 31)),
    ]
    return [
        CalendarEntry(district=district, kind=kind, name=name, start=start, end=end) for kind, name, start, end in rows
    ]


def seed(ctx: Any) -> None:
    today = ctx.today
    first = today.year - 1 if today.month >= 9 else today.year - 2
    entries: list[CalendarEntry] = []
    for district in ctx.districts:
        for year in range(first, first + 3):
            entries += district_year(district, year)
    # One school's sports meeting (停课) a week ago, when that was a weekday.
    campus = ctx.campuses[0]
    day = today - dt.timedelta(days=7)
    if day.weekday() < 5:
        entries.append(
            CalendarEntry(
                district_id=campus.school.district_id,
                school_id=campus.school_id,
                kind=EntryKind.CLOSURE,
                name="运动会停课 Sports meeting",
                start=day,
                end=day,
            )
        )
    CalendarEntry.objects.bulk_create(entries)
