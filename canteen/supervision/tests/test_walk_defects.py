"""What a district officer met on day one of the walk through every role (issue 23): a
ranking that tied schools with open cases at 100, a return that cut the school's deadline,
case evidence anyone with the link could download, a broken feedback QR image, the big
screen in UTC and all zeros before breakfast, and codes in the case history."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.urls import reverse
from django.utils import timezone

from canteen.org.choices import Role
from canteen.org.tests.factories import make_user
from canteen.supervision import selectors, services
from canteen.supervision.choices import CaseStatus, Severity
from canteen.supervision.models import CaseEvidence, DailyCampusStats, LiveItem

from .test_case_lifecycle import open_case, png

pytestmark = pytest.mark.django_db


def test_a_school_with_an_open_case_ranks_below_schools_without_one_and_the_page_says_why(world, client):
    district = world.user(Role.DISTRICT_REGULATOR)
    open_case(world)  # the first school's campus
    today = timezone.localdate()
    rows = selectors.school_ranking(actor=district, start=today - timedelta(days=30), end=today)
    by_school = {r["school_id"]: r for r in rows}
    with_case = by_school[str(world.campuses[0].school_id)]
    clean = [r for r in rows if r["cases"] == 0]
    assert clean
    assert all(r["score"] == 100.0 for r in clean)
    assert with_case["open"] == 1
    assert with_case["score"] < 100.0
    assert with_case["rank"] > max(r["rank"] for r in clean)

    client.force_login(district)
    page = client.get(reverse("supervision:ranking")).content.decode()
    assert 'data-testid="ranking-method"' in page
    assert "未销号问题" in page  # the rule names what an open case costs


def test_returning_a_response_never_shortens_the_deadline(world):
    district, school = world.user(Role.DISTRICT_REGULATOR), world.user(Role.SCHOOL_ADMIN)
    case = open_case(world, severity=Severity.HIGH)  # a return's default is one day
    far = timezone.now() + timedelta(days=10)
    case = services.case_assign(case=case, actor=district, deadline=far)
    case = services.case_respond(case=case, actor=school, note="已整改")
    case = services.case_review(case=case, actor=district, accept=False, note="照片不清楚")
    assert case.status == CaseStatus.ASSIGNED
    assert case.deadline == far


def test_case_evidence_is_served_to_who_may_see_the_case_only(world, client):
    district, school = world.user(Role.DISTRICT_REGULATOR), world.user(Role.SCHOOL_ADMIN)
    case = open_case(world)
    case = services.case_assign(case=case, actor=district, deadline=timezone.now() + timedelta(days=2))
    services.case_respond(case=case, actor=school, note="已清理", files=[png()])
    url = CaseEvidence.objects.get(case=case).file.url
    assert url.startswith("/media/")

    assert client.get(url).status_code == 404  # a link alone opens nothing
    other = make_user("other-district", Role.DISTRICT_REGULATOR, district=world.districts[1])
    client.force_login(other)
    assert client.get(url).status_code == 404
    client.force_login(district)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    # A path no domain claims is never served, whoever asks.
    assert client.get("/media/../settings.py").status_code == 404
    assert client.get("/media/other/secret.txt").status_code == 404


def test_the_feedback_qr_code_is_an_svg_image_a_browser_can_show(world, client):
    response = client.get(reverse("supervision:qr-svg", kwargs={"code": world.canteens[0].code}))
    assert response["Content-Type"] == "image/svg+xml"
    root = ElementTree.fromstring(response.content)  # noqa: S314 - our own response
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_the_big_screen_feed_gives_local_times_and_the_last_serving_day_before_breakfast(world):
    district = world.user(Role.DISTRICT_REGULATOR)
    campus = world.campuses[0]
    services.campus_dim_refresh()
    unit = selectors.default_unit(district)
    # 07:16 in Beijing is 23:16 UTC the day before.
    local_morning = timezone.localtime().replace(hour=7, minute=16, second=0, microsecond=0)
    item = LiveItem.objects.create(
        kind="alarm", text_zh="告警：未戴帽", text_en="Alarm", district_id=campus.school.district_id
    )
    LiveItem.objects.filter(pk=item.pk).update(at=local_morning)
    yesterday = timezone.localdate() - timedelta(days=1)
    DailyCampusStats.objects.create(
        day=yesterday,
        campus_id=campus.pk,
        school_id=campus.school_id,
        district_id=campus.school.district_id,
        city_id=world.city.pk,
        meals_served=2,
        meals_lunch=2,
    )
    feed = selectors.bigscreen(actor=district, unit=unit, now=local_morning)
    assert [i["at"][11:16] for i in feed["live"]] == ["07:16"]
    assert feed["live"][0]["at"].endswith("+08:00")
    assert feed["meals_today"] == 0
    assert feed["last_day"]["today"] == yesterday.isoformat()
    assert feed["last_day"]["meals_today"] == 2
    assert [r["meals"] for r in feed["last_day"]["ranking"]] == [2]


def test_the_case_history_shows_steps_and_statuses_by_their_labels_and_people_by_name(world, client):
    district = world.user(Role.DISTRICT_REGULATOR)
    district.display_name = "王科长"
    district.save()
    case = open_case(world)
    services.case_assign(case=case, actor=district, deadline=timezone.now() + timedelta(days=2))
    client.force_login(district)
    page = client.get(reverse("supervision:case-detail", args=[case.pk])).content.decode()
    history = page[page.index('data-testid="steps"') :]
    for label in ("立案", "交办", "已立案", "已交办", "王科长"):
        assert label in history
    for code in (">open<", ">assign<", "opened →", "→ assigned", district.username + "<"):
        assert code not in history


def test_an_alarm_case_describes_the_alarm_in_local_time_without_ids(world):
    from canteen.supervision.models import Case

    from . import events

    services.campus_dim_refresh()
    events.alarm(world.campuses[0])
    case = Case.objects.get(source="alarm")
    assert timezone.localtime().strftime("%Y-%m-%d %H:") in case.description
    assert "cam-1" not in case.description
    assert "camera=" not in case.description
