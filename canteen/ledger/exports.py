"""Excel (openpyxl) and PDF (reportlab) renderings of the finance reports and the disclosure.

PDFs use reportlab's built-in CID font STSong-Light (Adobe's Chinese font resource ships with
reportlab), so Chinese text renders and can be extracted without any font file."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from canteen.core.excel import xlsx_append
from canteen.core.money import Money

from .reports import Disclosure, Report

CJK = "STSong-Light"
_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK))
        _registered = True
    return CJK


def _yuan(fen: int | None) -> str:
    return "—" if fen is None else Money(int(fen)).yuan


REPORT_COLUMNS = [
    ("校区 Campus", None),
    ("餐费收入 Meal income", "income_fen"),
    ("充值 Top-ups", "top_ups_fen"),
    ("营养补助 Subsidy", "subsidy_fen"),
    ("食材成本 Food cost", "food_cost_fen"),
    ("其他成本 Other costs", "other_cost_fen"),
    ("就餐人次 Meals", "meals"),
    ("每餐食材成本 Food cost per meal", "cost_per_meal_fen"),
]


def report_xlsx(report: Report) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "财务报表"
    ws.append([f"食堂财务报表 Canteen finance report {report.start} – {report.end}（单位：元 / yuan）"])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([title for title, _ in REPORT_COLUMNS])
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True)
    for row in report.rows:
        values: list = [str(row.campus)]
        for _, attr in REPORT_COLUMNS[1:]:
            value = getattr(row, attr)
            values.append(value if attr == "meals" else (None if value is None else value / 100))
        xlsx_append(ws, values)  # a campus named "=..." stays text
    ws.append(
        ["合计 Total"]
        + [report.total(attr) / 100 if attr != "meals" else report.total(attr) for _, attr in REPORT_COLUMNS[1:-1]]
        + [None]
    )
    ws.column_dimensions["A"].width = 34
    for col in "BCDEFGH":
        ws.column_dimensions[col].width = 16
    for row in ws.iter_rows(min_row=3, min_col=2, max_col=8):
        for cell in row:
            if cell.column != 7:
                cell.number_format = "#,##0.00"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _styles() -> tuple[ParagraphStyle, ParagraphStyle]:
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, spaceAfter=6)
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14)
    return title, body


def _table(data: list[list[str]], widths: list[float]) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _font()),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef3f8")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def report_pdf(report: Report) -> bytes:
    title, body = _styles()
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, title="食堂财务报表")
    head = ["校区", "餐费收入", "充值", "营养补助", "食材成本", "其他成本", "人次", "每餐食材"]
    data = [head]
    for row in report.rows:
        data.append(
            [
                Paragraph(str(row.campus), body),
                _yuan(row.income_fen),
                _yuan(row.top_ups_fen),
                _yuan(row.subsidy_fen),
                _yuan(row.food_cost_fen),
                _yuan(row.other_cost_fen),
                str(row.meals),
                _yuan(row.cost_per_meal_fen),
            ]
        )
    data.append(
        ["合计"]
        + [
            _yuan(report.total(a))
            for a in ("income_fen", "top_ups_fen", "subsidy_fen", "food_cost_fen", "other_cost_fen")
        ]
        + [str(report.total("meals")), ""]
    )
    story = [
        Paragraph("食堂财务报表 Canteen finance report", title),
        Paragraph(f"期间 Period: {report.start} – {report.end}　单位：元", body),
        Spacer(1, 4 * mm),
        _table(data, [52 * mm, 20 * mm, 20 * mm, 20 * mm, 20 * mm, 20 * mm, 14 * mm, 18 * mm]),
    ]
    doc.build(story)
    return out.getvalue()


def disclosure_rows(d: Disclosure) -> list[tuple[str, str]]:
    return [
        ("上月结转 Balance brought forward", _yuan(d.opening_fen)),
        ("本月伙食费收入 Meal income this month", _yuan(d.income_fen)),
        ("其中营养改善计划补助 of which nutrition subsidy", _yuan(d.subsidy_fen)),
        ("食材支出 Food spending", _yuan(d.food_cost_fen)),
        ("食材支出占收入比例 Food spending share of income", d.food_share_pct),
        ("其他支出 Other costs", _yuan(d.other_cost_fen)),
        ("就餐人次 Meals served", str(d.meals)),
        ("食材出库（厨房领用）Food issued to the kitchen", _yuan(d.issued_cost_fen)),
        ("每餐食材成本 Food cost per meal", _yuan(d.cost_per_meal_fen)),
        ("结余结转下月 Balance carried forward", _yuan(d.closing_fen)),
    ]


def disclosure_pdf(d: Disclosure) -> bytes:
    title, body = _styles()
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=f"食堂财务公开 {d.year}-{d.month:02d}")
    school = d.campus.school.name
    data = [["项目 Item", "金额（元）Amount (yuan)"], *[[k, v] for k, v in disclosure_rows(d)]]
    story = [
        Paragraph(f"{school}{d.campus.name} 食堂财务公开", title),
        Paragraph(f"{d.year}年{d.month}月　Canteen accounts disclosure {d.year}-{d.month:02d}", body),
        Spacer(1, 5 * mm),
        _table(data, [110 * mm, 55 * mm]),
        Spacer(1, 5 * mm),
        Paragraph(
            "说明：学校食堂坚持公益性、非营利性原则，伙食费收支单独核算、按月公开，接受家长和社会监督。"
            + ("本月账目已结账。" if d.closed else "本月尚未结账，数字可能变动。"),
            body,
        ),
    ]
    doc.build(story)
    return out.getvalue()
