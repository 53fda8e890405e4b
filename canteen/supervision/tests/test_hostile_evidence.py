"""Case evidence is an upload from a school: a decompression bomb is refused, not decoded."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from canteen.org.choices import Role
from canteen.supervision import services
from canteen.supervision.choices import CaseSource
from canteen.supervision.errors import EvidenceRejected
from canteen.supervision.models import CaseEvidence

pytestmark = pytest.mark.django_db


def test_a_png_decompression_bomb_as_evidence_is_rejected(world):
    campus = world.campuses[0]
    district = world.user(Role.DISTRICT_REGULATOR)
    case, _ = services.case_open(
        actor=district, source=CaseSource.MANUAL, title="防蝇帘破损",
        district_id=campus.school.district_id, school_id=campus.school_id, campus_id=campus.pk,
    )  # fmt: skip
    case = services.case_assign(case=case, actor=district, note="请整改")
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, "PNG")  # 400 megapixels in ~50 KB
    bomb = SimpleUploadedFile("bomb.png", buf.getvalue(), content_type="image/png")
    with pytest.raises(EvidenceRejected) as caught:
        services.case_respond(case=case, actor=world.user(Role.SCHOOL_ADMIN), note="done", files=[bomb])
    assert caught.value.details["reason"] == "too_many_pixels"
    assert not CaseEvidence.objects.exists()
