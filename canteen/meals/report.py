"""The weekly report of a campus (带量食谱): each day's menus by session with the raw amount of
every ingredient per portion, the nutrients of each set meal and the WS/T 554-2017 check. As a
page (printable) and as a PDF (reportlab, with its built-in STSong-Light CID font for Chinese)."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from canteen.core.i18n import pair_of, tr
from canteen.org.models import Campus
from canteen.schoolcalendar.services import CalendarYearUnknown, school_days

from . import selectors
from .choices import Allergen, MenuStatus
from .models import RecipeLine

WEEKDAYS = [
    ("周一", "Mon"),
    ("周二", "Tue"),
    ("周三", "Wed"),
    ("周四", "Thu"),
    ("周五", "Fri"),
    ("周六", "Sat"),
    ("周日", "Sun"),
]


@dataclass
class DayReport:
    day: date
    weekday: str
    menus: list[selectors.SessionMenu]
    check: Any = None

    @property
    def has_drafts(self) -> bool:
        return any(m.status != MenuStatus.PUBLISHED for m in self.menus)


@dataclass
class WeekReport:
    campus: Campus
    start: date
    days: list[DayReport] = field(default_factory=list)
    amounts: dict[Any, list[tuple[str, Any]]] = field(default_factory=dict)  # dish id → [(name, grams)]

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)


def week_report(*, campus: Campus, start: date, actor: Any, days: int = 7) -> WeekReport:
    report = WeekReport(campus=campus, start=start)
    dish_ids = set()
    try:
        open_days = set(school_days(campus, start, start + timedelta(days=days - 1)))
    except CalendarYearUnknown:  # a year beyond the holiday data: weekdays, for a display filter
        open_days = {start + timedelta(days=n) for n in range(days) if (start + timedelta(days=n)).weekday() < 5}
    for offset in range(days):
        day = start + timedelta(days=offset)
        menus = selectors.menu_for_day(campus=campus, day=day, actor=actor, include_drafts=True, with_nutrition=True)
        if not menus and day not in open_days:
            continue  # days without school (weekends, holidays, vacations) and without meals are left out
        report.days.append(
            DayReport(
                day=day,
                weekday=tr(*WEEKDAYS[day.weekday()]),
                menus=menus,
                check=selectors.latest_nutrition_check(campus=campus, day=day),
            )
        )
        dish_ids |= {d.id for m in menus for sm in m.set_meals for d in sm.dishes}
    amounts: dict[Any, list] = defaultdict(list)
    for line in RecipeLine.objects.filter(dish_id__in=dish_ids).select_related("ingredient").order_by("-grams"):
        amounts[line.dish_id].append((line.ingredient.name_zh, line.grams))
    report.amounts = dict(amounts)
    return report


def _fmt_grams(grams) -> str:
    text = f"{grams:.1f}"
    return text[:-2] if text.endswith(".0") else text


def week_report_pdf(report: WeekReport) -> bytes:
    """An A4 landscape PDF of the weekly report."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20)
    small = ParagraphStyle("small", fontName=font, fontSize=8, leading=10)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=11)
    allergen_labels = {a.value: pair_of(a.label)[0] for a in Allergen}

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"带量食谱 {report.campus} {report.start}",
    )
    story: list = [
        Paragraph(
            f"带量食谱（每人每餐生重）　{report.campus}　{report.start:%Y-%m-%d} 至 {report.end:%Y-%m-%d}", title
        ),
        Paragraph(
            "营养素按《学生餐营养指南》WS/T 554-2017 核对；食物成分数据：USDA FoodData Central SR Legacy（公有领域）。",
            small,
        ),
        Spacer(1, 4 * mm),
    ]
    header = [
        "日期",
        "餐次",
        "套餐",
        "价格",
        "菜品及用量（克/人）",
        "能量 kcal",
        "蛋白质 g",
        "脂肪供能%",
        "碳水供能%",
        "盐 g",
        "过敏原",
    ]
    rows: list[list] = [header]
    styles: list = []
    for day_report in report.days:
        first_row = len(rows)
        if not day_report.menus:
            rows.append(
                [f"{day_report.day:%m-%d} {day_report.weekday}", "—", "未排菜单", "", "", "", "", "", "", "", ""]
            )
        for menu in day_report.menus:
            for sm in menu.set_meals:
                dishes = "；".join(
                    f"{d.name}（"
                    + "、".join(f"{name}{_fmt_grams(g)}" for name, g in report.amounts.get(d.id, []))
                    + "）"
                    for d in sm.dishes
                )
                n = sm.nutrition or {}
                rows.append(
                    [
                        f"{day_report.day:%m-%d} {day_report.weekday}",
                        menu.kind_label + ("" if menu.status == MenuStatus.PUBLISHED else "（草稿）"),
                        Paragraph(sm.name, cell),
                        sm.price.yuan,
                        Paragraph(dishes, cell),
                        str(n.get("energy_kcal", "")),
                        str(n.get("protein_g", "")),
                        str(n.get("fat_pct", "")),
                        str(n.get("carb_pct", "")),
                        str(n.get("salt_g", "")),
                        Paragraph("、".join(allergen_labels.get(a, a) for a in sm.allergens) or "无", cell),
                    ]
                )
        check = day_report.check
        if check is not None:
            fails = [f for f in check.flags if f["severity"] == "fail"]
            verdict = "达标" if check.passed else "未达标：" + "；".join(f["message_zh"] for f in fails[:6])
            rows.append(["", "营养核对", Paragraph(verdict, cell), "", "", "", "", "", "", "", ""])
            styles.append(("SPAN", (2, len(rows) - 1), (10, len(rows) - 1)))
            colour = colors.HexColor("#e3f4ea") if check.passed else colors.HexColor("#fdecea")
            styles.append(("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), colour))
        styles.append(("LINEABOVE", (0, first_row), (-1, first_row), 0.8, colors.black))
    table = Table(
        rows,
        repeatRows=1,
        colWidths=[20 * mm, 18 * mm, 22 * mm, 12 * mm, 104 * mm, 15 * mm, 15 * mm, 15 * mm, 15 * mm, 11 * mm, 26 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *styles,
            ]
        )
    )
    story.append(table)
    doc.build(story)
    return out.getvalue()
