"""Label sheets print for roll printers (50×30, 60×40 mm) and A4 sheets, and the QR on them
decodes to the public page of the right batch."""

import cv2
import pypdfium2 as pdfium
import pytest

from canteen.core.qr import decode_qr
from canteen.org.choices import Role
from canteen.trace import labels

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
        assert decode_qr_from_pdf(response.content).endswith(f"/t/{codes[0]}")


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
