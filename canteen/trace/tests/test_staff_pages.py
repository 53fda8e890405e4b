"""Staff pages: the code list with label printing, and the recall page that raises a recall."""

import pytest

from canteen.org.choices import Role
from canteen.trace.models import Recall

pytestmark = pytest.mark.django_db


def test_code_list_is_scoped(journey, client, world):
    from canteen.org.tests.factories import make_user

    client.force_login(journey.world.user(Role.STOREKEEPER))
    html = client.get("/trace/codes/").content.decode()
    assert journey.pork_code.code in html
    client.force_login(make_user("far-admin", Role.SCHOOL_ADMIN, school=world.schools[3], district=world.districts[1]))
    assert journey.pork_code.code not in client.get("/trace/codes/").content.decode()


def test_a_storekeeper_cannot_raise_a_recall(journey, client):
    client.force_login(journey.world.user(Role.STOREKEEPER))
    client.post(f"/trace/recall/{journey.pork_code.code}/", {"reason": "我觉得不对"})
    assert not Recall.objects.exists()


def test_recall_page_lists_campuses_and_raises(journey, client):
    client.force_login(journey.world.user(Role.DISTRICT_REGULATOR))
    page = client.get(f"/trace/recall/{journey.pork_code.code}/")
    assert page.status_code == 200
    assert "青椒肉丝" in page.content.decode()
    response = client.post(f"/trace/recall/{journey.pork_code.code}/", {"reason": "抽检不合格"})
    assert response.status_code == 302
    assert Recall.objects.get().reason == "抽检不合格"


def test_a_regulator_imports_an_epcis_file_and_a_bad_one_changes_nothing(journey, client):
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    from canteen.trace import epcis, services
    from canteen.trace.models import EpcisEvent

    event = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:22222222-2222-4333-8444-555555555555",
        "eventTime": "2026-11-20T06:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "sampling",
        "quantityList": [{"epcClass": services.batch_class_uri(journey.cabbage_code), "quantity": 0.5, "uom": "KGM"}],
    }
    doc = json.dumps(epcis.document([event], created=journey.delivery.dispatched_at)).encode()
    client.force_login(journey.world.user(Role.DISTRICT_REGULATOR))
    before = EpcisEvent.objects.count()
    bad = client.post("/trace/epcis/import/", {"document": SimpleUploadedFile("x.json", doc[:-5])})
    assert 'data-testid="import-error"' in bad.content.decode()
    assert EpcisEvent.objects.count() == before
    ok = client.post("/trace/epcis/import/", {"document": SimpleUploadedFile("x.json", doc)})
    assert 'data-testid="import-ok"' in ok.content.decode()
    assert EpcisEvent.objects.count() == before + 1
    client.force_login(journey.world.user(Role.STOREKEEPER))
    assert client.get("/trace/epcis/import/").status_code == 404
