"""Label sheets print for roll printers (50×30, 60×40 mm) and A4 sheets, and the QR on them
decodes to the public page of the right batch."""

import cv2
import pypdfium2 as pdfium
import pytest

from canteen.core.qr import decode_qr
from canteen.org.choices import Role
from canteen.trace import gs1, labels, services
from canteen.trace.models import TraceCode

from .conftest import deliver_and_accept

pytestmark = pytest.mark.django_db

MM = 72 / 25.4


def decode_qr_from_pdf(pdf: bytes, page: int = 0) -> str:
    image = pdfium.PdfDocument(pdf)[page].render(scale=4).to_numpy()
    gray = cv2.cvtColor(image[:, :, :3], cv2.COLOR_RGB2GRAY)
    return decode_qr(gray)


@pytest.mark.parametrize(
    ("fmt", "size_mm", "pages"), [("50x30", (50, 30), 2), ("60x40", (60, 40), 2), ("a4-24", (210, 297), 1)]
)
def test_label_pdf_sizes_and_qr(journey, client, fmt, size_mm, pages):
    client.force_login(journey.world.user(Role.STOREKEEPER))
    codes = sorted([journey.pork_code.code, journey.cabbage_code.code])
    response = client.get(f"/trace/labels.pdf?format={fmt}&codes={','.join(codes)}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    doc = pdfium.PdfDocument(response.content)
    assert len(doc) == pages
    width, height = doc[0].get_size()
    assert round(width / MM) == size_mm[0]
    assert round(height / MM) == size_mm[1]
    if fmt != "a4-24":
        first = TraceCode.objects.get(code=codes[0])
        assert decode_qr_from_pdf(response.content) == f"https://canteen.local/01/{first.gtin}/10/{first.lot}"


def test_the_label_qr_is_the_gs1_digital_link_and_resolves(journey, world, client, settings):
    """The QR decodes to `https://<resolver>/01/<GTIN-14>/10/<lot>`; when the same lot went to
    two campuses the trace code rides along, and the resolver opens the right batch's page."""
    settings.CANTEEN_GS1_RESOLVER = "https://trace.jingzhou.example.cn"
    keeper = journey.world.user(Role.STOREKEEPER)
    client.force_login(keeper)
    code = journey.pork_code
    pdf = client.get(f"/trace/labels.pdf?format=50x30&codes={code.code}").content
    uri = decode_qr_from_pdf(pdf)
    assert uri == f"https://trace.jingzhou.example.cn/01/{code.gtin}/10/{code.lot}"
    assert uri == services.label_uri(code)
    assert len(code.gtin) == 14
    assert gs1.is_valid_key(code.gtin, 14)
    path = uri.removeprefix("https://trace.jingzhou.example.cn")
    assert client.get(path)["Location"] == f"/t/{code.code}"

    # The same pork lot delivered to a second campus: the lot alone is ambiguous now.
    deliver_and_accept(
        world,
        campus=world.campuses[1],
        supplier=journey.supplier,
        items=(journey.extra["cabbage"], journey.extra["pork"]),
    )
    assert TraceCode.objects.filter(gtin=code.gtin, lot=code.lot).count() == 2
    shared = decode_qr_from_pdf(client.get(f"/trace/labels.pdf?format=60x40&codes={code.code}").content)
    assert shared == f"https://trace.jingzhou.example.cn/01/{code.gtin}/10/{code.lot}?tc={code.code}"
    path = shared.removeprefix("https://trace.jingzhou.example.cn")
    assert client.get(path)["Location"] == f"/t/{code.code}"
    assert client.get(path.split("?")[0]).status_code == 200  # without it: the list to choose from


def test_check_deploy_refuses_the_default_resolver(settings):
    from django.core.checks import run_checks

    settings.CANTEEN_GS1_RESOLVER = settings.CANTEEN_GS1_RESOLVER_DEFAULT
    found = [m.id for m in run_checks(include_deployment_checks=True)]
    assert "trace.E001" in found
    settings.CANTEEN_GS1_RESOLVER = "https://trace.jingzhou.example.cn"
    assert "trace.E001" not in [m.id for m in run_checks(include_deployment_checks=True)]


def test_labels_only_for_codes_the_user_may_see(journey, client, world):
    from canteen.org.tests.factories import make_user

    outsider = make_user("keeper-far", Role.STOREKEEPER, campus=world.campuses[3], school=world.campuses[3].school)
    client.force_login(outsider)
    assert client.get(f"/trace/labels.pdf?codes={journey.pork_code.code}").status_code == 404


def test_every_label_scans_whatever_its_code():
    """A storekeeper prints labels for many batches: each one must scan. Random codes include
    some that OpenCV's classic detector cannot decode (DX2W646RSM is one such, measured)."""
    import random

    rng = random.Random(7)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    codes = ["DX2W646RSM"] + ["".join(rng.choice(alphabet) for _ in range(10)) for _ in range(24)]
    for code in codes:
        url = f"http://testserver/t/{code}"
        label = {
            "url": url,
            "item": "猪肉（前腿）",
            "lot": "PK-7788",
            "production_date": "2026-11-20",
            "shelf_life": "3天",
            "supplier": "湖北荆楚肉类食品有限公司",
            "code": code,
        }
        assert decode_qr_from_pdf(labels.label_pdf([label], fmt_key="60x40")) == url
