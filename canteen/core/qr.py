"""Reading QR codes from camera frames and rendered labels.

OpenCV's classic QRCodeDetector fails to decode some payloads outright (about one label in ten
in our measurements, at every resolution), while its ArUco-based detector reads them; each
misses cases the other reads, so we try both. Used by the window terminal (QR cards held up to
the camera) and by tests that scan printed labels and cards."""

from __future__ import annotations

import numpy as np

_detectors: list = []


def _all_detectors() -> list:
    if not _detectors:
        import cv2

        _detectors.extend([cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()])
    return _detectors


def decode_qr(image: np.ndarray) -> str:
    """The text of the first QR code found in a grey or BGR/RGB image, or ''."""
    import cv2

    for detector in _all_detectors():
        try:
            text, _points, _ = detector.detectAndDecode(image)
        except cv2.error:
            continue
        if text:
            return text
    return ""


def decode_all_qr(image: np.ndarray) -> list[str]:
    """Every QR code in the image (a sheet of cards), by either detector."""
    import cv2

    found: list[str] = []
    for detector in _all_detectors():
        try:
            ok, texts, _points, _ = detector.detectAndDecodeMulti(image)
        except cv2.error:
            continue
        if ok:
            found.extend(t for t in texts if t and t not in found)
    return found


def qr_svg_document(text: str, *, scale: int = 6, border: int = 2) -> str:
    """A QR code as a standalone SVG document (served as image/svg+xml, shown by <img>).

    segno's `svg_inline` leaves out the SVG namespace, which is right inside an HTML page and
    wrong for a file: a browser then shows a broken image."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=scale, border=border, xmldecl=False, svgns=True)
    return buffer.getvalue().decode()
