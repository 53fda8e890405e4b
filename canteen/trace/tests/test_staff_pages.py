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
