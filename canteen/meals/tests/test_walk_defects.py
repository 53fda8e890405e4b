"""孩子的膳食 and 孩子的餐费 are a parent's pages: opened by the admin on day one of the walk
(issue 23) they rendered every pupil of the district (5–6 MB, more than 60 s)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from canteen.org.tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url_name", ["meals:my-menus", "ledger:guardian-home"])
def test_the_childrens_pages_show_the_users_own_children_only(world, client, url_name):
    admin = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    page = client.get(reverse(url_name)).content.decode()
    assert not [s.name for s in world.students if s.name in page]

    client.force_login(world.user("guardian"))  # the first pupil's parent
    page = client.get(reverse(url_name)).content.decode()
    assert world.students[0].name in page
    assert [s.name for s in world.students[1:] if s.name + "<" in page or s.name + "（" in page] == []
