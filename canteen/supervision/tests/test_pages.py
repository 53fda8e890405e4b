"""Server-rendered pages answer for the right people (and the parents' form for anyone)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from canteen.org.choices import Role
from canteen.supervision import services
from canteen.supervision.choices import CaseSource
from canteen.supervision.models import Feedback

from . import events

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name", ["dashboard", "bigscreen", "case-list", "ranking", "inspection-list", "feedback-list", "qr-sheet"]
)
def test_regulator_pages_render(client, world, name):
    services.campus_dim_refresh()
    events.meal_served(world.campuses[0])
    services.case_open(actor=None, source=CaseSource.MANUAL, title="t", district_id=world.districts[0].pk)
    client.force_login(world.user(Role.DISTRICT_REGULATOR))
    r = client.get(reverse(f"supervision:{name}"))
    assert r.status_code == 200


def test_guardians_get_no_supervision_pages(client, world):
    client.force_login(world.user(Role.GUARDIAN))
    assert client.get(reverse("supervision:dashboard")).status_code == 403
    assert client.get(reverse("supervision:case-list")).status_code == 403


def test_case_page_runs_the_loop_with_forms(client, world):
    case, _ = services.case_open(
        actor=None, source=CaseSource.MANUAL, title="油烟机未清洗", district_id=world.districts[0].pk,
        school_id=world.schools[0].pk,
    )  # fmt: skip
    url = reverse("supervision:case-detail", args=[case.pk])
    client.force_login(world.user(Role.DISTRICT_REGULATOR))
    assert "do-assign" in client.get(url).content.decode()
    client.post(url, {"action": "assign", "school": str(world.schools[0].pk), "deadline": "2099-01-01"})
    client.force_login(world.user(Role.SCHOOL_ADMIN))
    page = client.get(url).content.decode()
    assert "do-respond" in page
    assert "do-assign" not in page
    client.post(url, {"action": "respond", "note": "已清洗"})
    case.refresh_from_db()
    assert case.status == "responded"


def test_parent_form_without_login_and_qr(client, world):
    canteen = world.canteens[0]
    r = client.get(reverse("supervision:public-feedback", args=[canteen.code]))
    assert r.status_code == 200
    r = client.post(
        reverse("supervision:public-feedback", args=[canteen.code]),
        {"kind": "praise", "text": "饭菜可口", "rating": "5"},
    )
    assert r.status_code == 302
    feedback = Feedback.objects.get()
    assert feedback.rating == 5
    assert feedback.follow_code in r["Location"]
    follow = client.get(r["Location"]).content.decode()
    assert feedback.follow_code in follow
    svg = client.get(reverse("supervision:qr-svg", args=[canteen.code]))
    assert svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    assert client.get(reverse("supervision:qr-svg", args=["missing"])).status_code == 404
