"""Every EPCIS document the demo exports is valid against the official GS1 EPCIS 2.0 schema with
format checks on, and says +08:00, SGLN and GS1 Prefix 04 where the old exports did not."""

import pytest

from canteen.org.models import User
from canteen.trace import epcis, selectors
from canteen.trace.models import TraceCode

pytestmark = pytest.mark.django_db


def test_every_document_the_demo_exports_is_valid_against_the_official_schema():
    from canteen.org.demo import seed_organisation
    from canteen.procurement import demo as procurement_demo
    from canteen.trace import demo as trace_demo

    ctx = seed_organisation(schools=2, campuses=3, students_per_campus=2)
    procurement_demo.seed(ctx)
    trace_demo.seed(ctx)
    official = epcis.official_schema_path()
    assert official is not None
    regulator = User.objects.get(username="district")
    codes = list(TraceCode.objects.order_by("created_at"))
    assert len(codes) > 10
    steps: set[str] = set()
    for code in codes:
        doc = selectors.epcis_export(actor=regulator, codes=[code])
        assert epcis.validate_document(doc, paths=[str(official)]) == [], code.code
        for event in doc["epcisBody"]["eventList"]:
            steps.add(event["bizStep"])
            assert event["eventTimeZoneOffset"] == "+08:00"
            if "bizLocation" in event:
                assert event["bizLocation"]["id"].startswith("urn:epc:id:sgln:04")
    whole = selectors.epcis_export(actor=regulator, codes=codes)
    assert epcis.validate_document(whole, paths=[str(official)]) == []
    assert {"receiving", "inspecting", "storing", "shipping", "transporting"} <= steps
    assert all(c.gtin.startswith("004") for c in codes)
