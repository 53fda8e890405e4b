"""QR label sheets as PDF: single labels for thermal label printers (50×30 mm, 60×40 mm) and
A4 sheets of labels for office printers. QR by segno, PDF by reportlab with a CJK font."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas


@dataclass(frozen=True)
class LabelFormat:
    key: str
    label_w: float  # mm
    label_h: float
    sheet: tuple[float, float] | None = None  # None: one label per page (roll printers)
    cols: int = 1
    rows: int = 1


FORMATS = {
    "50x30": LabelFormat("50x30", 50, 30),
    "60x40": LabelFormat("60x40", 60, 40),
    # A4 sheets of 3×8 labels of 70×37 mm (the common 24-up office sheet).
    "a4-24": LabelFormat("a4-24", 70, 37.125, sheet=A4, cols=3, rows=8),
}

_FONT = "STSong-Light"


def _font() -> str:
    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_FONT))
    return _FONT


def qr_png(url: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def _draw_qr(pdf: canvas.Canvas, url: str, x: float, y: float, size: float) -> None:
    """The QR as vector squares with the standard 4-module quiet zone: crisp on a 203 dpi thermal
    printer at any label size, where a scaled bitmap blurs module edges and fails some scanners."""
    qr = segno.make(url, error="m", micro=False)
    border = 4
    rows = list(qr.matrix)
    module = size / (len(rows) + 2 * border)
    pdf.saveState()
    pdf.setFillColorRGB(1, 1, 1)
    pdf.rect(x, y, size, size, stroke=0, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(rows):
        top = y + size - (border + r + 1) * module
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                # One rectangle per run of dark modules keeps the PDF small.
                pdf.rect(x + (border + start) * module, top, (c - start) * module, module, stroke=0, fill=1)
            else:
                c += 1
    pdf.restoreState()


def _fit(text: str, font: str, size: float, width: float) -> str:
    while text and pdfmetrics.stringWidth(text, font, size) > width:
        text = text[:-1]
    return text


def _draw_label(pdf: canvas.Canvas, x: float, y: float, fmt: LabelFormat, label: dict[str, Any]) -> None:
    w, h = fmt.label_w * mm, fmt.label_h * mm
    font = _font()
    margin = 1.5 * mm
    qr_size = h - 2 * margin
    _draw_qr(pdf, label["url"], x + margin, y + margin, qr_size)
    tx = x + 2 * margin + qr_size
    text_w = w - (tx - x) - margin
    big = 7.5 if fmt.label_h >= 35 else 6.5
    small = big - 1.5
    lines = [
        (label["item"], big),
        (f"批号 {label['lot']}", small),
        (f"生产 {label['production_date']}", small),
        (f"保质 {label['shelf_life']}", small),
        (label["supplier"], small),
        (f"溯源码 {label['code']}", small),
    ]
    cy = y + h - margin - big
    for text, size in lines:
        if cy < y + margin:
            break
        pdf.setFont(font, size)
        pdf.drawString(tx, cy, _fit(str(text), font, size, text_w))
        cy -= size + 1.6


def label_pdf(labels: list[dict[str, Any]], *, fmt_key: str = "50x30") -> bytes:
    """labels: [{"url", "code", "item", "lot", "production_date", "shelf_life", "supplier"}]"""
    fmt = FORMATS[fmt_key]
    buffer = io.BytesIO()
    if fmt.sheet is None:
        pdf = canvas.Canvas(buffer, pagesize=(fmt.label_w * mm, fmt.label_h * mm))
        for label in labels:
            _draw_label(pdf, 0, 0, fmt, label)
            pdf.showPage()
    else:
        pdf = canvas.Canvas(buffer, pagesize=fmt.sheet)
        page_w, page_h = fmt.sheet
        left = (page_w - fmt.cols * fmt.label_w * mm) / 2
        top = page_h - (page_h - fmt.rows * fmt.label_h * mm) / 2
        per_page = fmt.cols * fmt.rows
        for index, label in enumerate(labels):
            slot = index % per_page
            if index and slot == 0:
                pdf.showPage()
            col, row = slot % fmt.cols, slot // fmt.cols
            _draw_label(pdf, left + col * fmt.label_w * mm, top - (row + 1) * fmt.label_h * mm, fmt, label)
        pdf.showPage()
    pdf.setTitle("溯源标签 Trace labels")
    pdf.save()
    return buffer.getvalue()


def qc_preview_png(data: bytes, *, width_px: int = 900) -> bytes | None:
    """First page of a PDF (or an image) as a PNG at most `width_px` wide; None if unreadable."""
    from canteen.core.images import image_open_bounded

    try:
        if data[:5] == b"%PDF-":
            import pypdfium2 as pdfium

            page = pdfium.PdfDocument(data)[0]
            w, _h = page.get_size()
            image = page.render(scale=min(3.0, width_px / max(w, 1))).to_pil()
        else:
            image = image_open_bounded(data)
            image.thumbnail((width_px, width_px * 2))
            image = image.convert("RGB")
    except Exception:  # an unreadable upload shows as "not available", never as a 500
        return None
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
