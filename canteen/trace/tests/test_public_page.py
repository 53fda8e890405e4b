"""The page a parent's phone opens after scanning a label: everything about the batch, nothing
about people."""

import pytest
from django.core.cache import cache

from canteen.trace import views
from canteen.trace.models import TraceCode

pytestmark = pytest.mark.django_db

PERSONAL = ["司机王师傅", "13912345678", "张经理", "13800000000", "库管李四", "鄂D12345"]


def test_the_page_shows_the_whole_path_without_login(journey, client):
    cache.clear()
    response = client.get(f"/t/{journey.pork_code.code}")
    assert response.status_code == 200
    html = response.content.decode()
    for expected in (
        "猪肉（后腿）",
        "PK-7788",
        "荆州市绿源蔬菜基地",  # producer
        journey.supplier.name,
        "部分接收",  # acceptance result
        "2kg 色泽异常",  # its reason
        'data-testid="route-svg"',
        'data-testid="temperature-svg"',
        "冷链中断",
        "青椒肉丝",  # the dish it went into
        f"/t/{journey.pork_code.code}/qc",
    ):
        assert expected in html, expected
    cabbage = client.get(f"/t/{journey.cabbage_code.code}").content.decode()
    assert "农药残留" in cabbage
    assert "醋溜白菜" in cabbage


def test_the_page_reveals_no_personal_data(journey, client, world):
    cache.clear()
    html = client.get(f"/t/{journey.pork_code.code}").content.decode()
    names = (
        PERSONAL + [s.name for s in world.students] + [s.guardian_links.get().guardian.phone for s in world.students]
    )
    leaked = [n for n in names if n in html]
    assert leaked == []


def test_qc_report_opens_inline(journey, client):
    cache.clear()
    response = client.get(f"/t/{journey.pork_code.code}/qc")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == "inline"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_qc_report_preview_is_an_image_for_phones(journey, client):
    import io

    from django.core.files.base import ContentFile
    from reportlab.pdfgen import canvas

    from canteen.procurement.models import Batch

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 720, "QC REPORT 2026-11")
    pdf.save()
    batch = Batch.objects.get(pk=journey.pork_code.batch_id)
    batch.qc_report.save("qc-real.pdf", ContentFile(buffer.getvalue()), save=True)
    cache.clear()
    response = client.get(f"/t/{journey.pork_code.code}/qc.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    # an unreadable upload is "not available", not a server error
    batch.qc_report.save("broken.pdf", ContentFile(b"%PDF-garbage"), save=True)
    Batch.objects.filter(pk=batch.pk).update(qc_report_sha256="changed")
    assert client.get(f"/t/{journey.pork_code.code}/qc.png").status_code == 404


def test_unknown_codes_and_digital_links(journey, client):
    cache.clear()
    assert client.get("/t/ZZZZZZZZZZ").status_code == 404
    code = journey.pork_code
    response = client.get(f"/t/01/{code.gtin}/10/{code.lot}")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/t/{code.code}")
    assert client.get(f"/t/01/{code.gtin}/10/NOPE").status_code == 404


def test_scanning_counts_and_walking_codes_is_rate_limited(journey, client, monkeypatch):
    cache.clear()
    monkeypatch.setattr(views, "PUBLIC_RATE_PER_MINUTE", 3)
    statuses = [client.get(f"/t/{journey.pork_code.code}").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    from canteen.trace.tasks import flush_scan_counts

    flush_scan_counts()  # a page view may already have flushed some (once a minute per process)
    assert TraceCode.objects.get(pk=journey.pork_code.pk).scans == 3
    assert flush_scan_counts() == "0 scans"
    blocked = client.get("/t/AAAAAAAAAA")
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "60"
    cache.clear()
