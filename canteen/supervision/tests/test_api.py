"""The JSON API: dashboards, big screen, the case loop over HTTP, inspections, feedback."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from canteen.org.choices import Role
from canteen.supervision import services
from canteen.supervision.choices import CaseSource

from . import events

pytestmark = pytest.mark.django_db
API = "/api/v1/supervision"


def as_user(api_client, world, role):
    api_client.force_authenticate(world.user(role))
    return api_client


def test_dashboard_api_for_each_level_and_refuses_other_districts(api_client, world):
    services.campus_dim_refresh()
    events.meal_served(world.campuses[0], amount_fen=600)
    events.ledger("ledger.topped_up", world.campuses[0], 10_000)
    events.delivery(world.campuses[0], accepted_fen=30_000, supplier_id="S9")
    client = as_user(api_client, world, Role.DISTRICT_REGULATOR)
    body = client.get(f"{API}/dashboard/").json()
    assert body["unit"]["level"] == "district"
    assert body["meals_today"] == 1
    assert body["totals"]["topups_fen"] == 10_000
    assert body["totals"]["food_cost_per_meal_fen"] == 30_000
    assert body["spend"]["by_supplier"][0]["amount_fen"] == 30_000
    school = client.get(f"{API}/dashboard/", {"level": "school", "id": str(world.schools[0].pk)}).json()
    assert [c["meals_net"] for c in school["children"]] == [1, 0]
    other = client.get(f"{API}/dashboard/", {"level": "district", "id": str(world.districts[1].pk)})
    assert other.status_code == 403
    bad = client.get(f"{API}/dashboard/", {"start": "2026-02-30"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "validation_failed"
    assert api_client.get(f"{API}/dashboard/", {"start": "2020-01-01", "end": "2026-01-01"}).status_code == 400


def test_bigscreen_api_shows_meals_alarms_and_ranking(api_client, world):
    services.campus_dim_refresh()
    for _ in range(2):
        events.meal_served(world.campuses[1])
    events.alarm(world.campuses[1], kind="no_mask")
    body = as_user(api_client, world, Role.DISTRICT_REGULATOR).get(f"{API}/bigscreen/").json()
    assert body["meals_today"] == 2
    assert body["alarms_today"] == 1
    assert body["ranking"][0]["meals"] == 2
    assert body["ranking"][0]["participation_rate"] == round(2 / 3, 4)
    assert any(i["kind"] == "alarm" for i in body["live"])
    assert sum(h["meals"] for h in body["hourly"]) in (0, 2)  # hours outside 6–20 are not plotted


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    return buf.getvalue()


def test_case_loop_over_http(api_client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    district = as_user(api_client, world, Role.DISTRICT_REGULATOR)
    r = district.post(
        f"{API}/cases/open/",
        {"title": "冷库温度异常", "district": str(world.districts[0].pk), "campus": str(world.campuses[0].pk)},
        format="json",
    )
    assert r.status_code == 201
    case_id = r.json()["id"]
    deadline = (timezone.now() + timedelta(days=1)).isoformat()
    assert district.post(f"{API}/cases/{case_id}/assign/", {"deadline": deadline}, format="json").status_code == 200
    school = as_user(api_client, world, Role.SCHOOL_ADMIN)
    r = school.post(
        f"{API}/cases/{case_id}/respond/",
        {"note": "已维修", "files": [SimpleUploadedFile("a.png", png_bytes(), "image/png")]},
        format="multipart",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["evidence"][0]["is_image"] is True
    assert school.post(f"{API}/cases/{case_id}/close/", {}, format="json").status_code == 403
    district = as_user(api_client, world, Role.DISTRICT_REGULATOR)
    assert (
        district.post(f"{API}/cases/{case_id}/close/", {}, format="json").json()["error"]["code"]
        == "invalid_transition"
    )
    assert district.post(f"{API}/cases/{case_id}/review/", {"accept": True}, format="json").status_code == 200
    body = district.post(f"{API}/cases/{case_id}/close/", {}, format="json").json()
    assert body["status"] == "closed"
    assert [s["action"] for s in body["steps"]] == ["open", "assign", "respond", "accept", "close"]
    listed = district.get(f"{API}/cases/", {"status": "closed"}).json()
    assert listed["count"] == 1
    other = as_user(api_client, world, Role.CANTEEN_MANAGER)
    assert other.get(f"{API}/cases/{case_id}/").status_code == 200  # its own campus
    api_client.force_authenticate(world.user(Role.GUARDIAN))
    assert api_client.get(f"{API}/cases/{case_id}/").status_code == 404


def test_random_draw_is_reproducible_from_its_seed(api_client, world):
    from canteen.org.tests.factories import make_user

    for i in range(3):
        make_user(f"insp{i}", Role.DISTRICT_REGULATOR, district=world.districts[0])
    client = as_user(api_client, world, Role.DISTRICT_REGULATOR)
    payload = {"district": str(world.districts[0].pk), "campuses": 2, "planned_on": "2026-12-01", "seed": 42}
    first = client.post(f"{API}/inspections/draw/", payload, format="json").json()
    second = client.post(f"{API}/inspections/draw/", payload, format="json").json()
    assert [(i["campus"], i["inspectors"]) for i in first] == [(i["campus"], i["inspectors"]) for i in second]
    assert len({i["campus"] for i in first}) == 2
    assert all(len(i["inspectors"]) == 2 and len(i["items"]) == 10 for i in first)
    too_many = client.post(f"{API}/inspections/draw/", {**payload, "campuses": 50}, format="json")
    assert too_many.json()["error"]["code"] == "inspection_not_enough_candidates"
    api_client.force_authenticate(world.user(Role.SCHOOL_ADMIN))
    assert api_client.post(f"{API}/inspections/draw/", payload, format="json").status_code == 403
    # Recording: every item needs a result; a failure opens a case.
    inspection = first[0]
    client = as_user(api_client, world, Role.DISTRICT_REGULATOR)
    partial = client.post(
        f"{API}/inspections/{inspection['id']}/record/",
        {"results": [{"code": "licence", "result": "pass"}]},
        format="json",
    )
    assert partial.json()["error"]["code"] == "inspection_incomplete"
    results = [
        {"code": it["code"], "result": "fail" if it["code"] == "hygiene" else "pass"} for it in inspection["items"]
    ]
    done = client.post(f"{API}/inspections/{inspection['id']}/record/", {"results": results}, format="json").json()
    assert done["status"] == "done"
    assert [it["case"] is not None for it in done["items"]].count(True) == 1


def test_public_feedback_needs_no_login_is_rate_limited_and_can_be_followed(api_client, world, settings):
    monkey_limit = 3
    services.FEEDBACK_PER_IP_PER_HOUR, old = monkey_limit, services.FEEDBACK_PER_IP_PER_HOUR
    try:
        code = world.canteens[0].code
        codes = []
        for i in range(monkey_limit):
            r = api_client.post(
                f"{API}/public/feedback/", {"canteen": code, "kind": "suggestion", "text": f"建议{i}"}, format="json"
            )
            assert r.status_code == 201
            codes.append(r.json()["follow_code"])
        r = api_client.post(
            f"{API}/public/feedback/", {"canteen": code, "kind": "suggestion", "text": "再来"}, format="json"
        )
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        # Another address is not limited by the first one.
        r = api_client.post(
            f"{API}/public/feedback/", {"canteen": code, "kind": "complaint", "text": "菜凉了", "contact": "139"},
            format="json", REMOTE_ADDR="10.0.0.9",
        )  # fmt: skip
        assert r.status_code == 201
        complaint_code = r.json()["follow_code"]
    finally:
        services.FEEDBACK_PER_IP_PER_HOUR = old
    assert (
        api_client.post(
            f"{API}/public/feedback/", {"canteen": "nope", "kind": "praise", "text": "x"}, format="json"
        ).status_code
        == 404
    )
    follow = api_client.get(f"{API}/public/feedback/{complaint_code}/").json()
    assert follow["status"] == "case_opened"
    assert follow["case_status"] == "opened"
    assert "contact" not in follow
    staff = as_user(api_client, world, Role.SCHOOL_ADMIN)
    fb = staff.get(f"{API}/feedback/").json()["results"]
    target = next(f for f in fb if f["follow_code"] == codes[0])
    assert (
        staff.post(
            f"{API}/feedback/{target['id']}/answer/", {"answer": "已采纳，下周起增加水果"}, format="json"
        ).status_code
        == 200
    )
    api_client.force_authenticate(None)
    follow = api_client.get(f"{API}/public/feedback/{codes[0]}/").json()
    assert (follow["status"], follow["answer"]) == ("answered", "已采纳，下周起增加水果")


def test_rate_limit_counts_exactly_in_the_database(world):
    hits = [services.ratelimit_hit(key="k", limit=3) for _ in range(5)]
    assert hits == [True, True, True, False, False]
    later = timezone.now() + timedelta(hours=1)
    assert services.ratelimit_hit(key="k", limit=3, now=later) is True


def test_ranking_prefers_schools_that_close_on_time(api_client, world):
    district = world.user(Role.DISTRICT_REGULATOR)
    school_admin = world.user(Role.SCHOOL_ADMIN)
    good_school, bad_school = world.schools[0], world.schools[1]
    case, _ = services.case_open(
        actor=district,
        source=CaseSource.MANUAL,
        title="a",
        district_id=good_school.district_id,
        school_id=good_school.pk,
    )
    case = services.case_assign(case=case, actor=district)
    case = services.case_respond(case=case, actor=school_admin, note="done")
    case = services.case_review(case=case, actor=district, accept=True)
    services.case_close(case=case, actor=district)
    for ref in ("x1", "x2"):  # the same problem twice at the same place: a recurrence
        services.case_open(
            actor=district,
            source=CaseSource.ALARM,
            source_ref=ref,
            title="b",
            district_id=bad_school.district_id,
            school_id=bad_school.pk,
        )
    body = as_user(api_client, world, Role.DISTRICT_REGULATOR).get(f"{API}/ranking/").json()
    rows = {r["school"]: r for r in body["schools"]}
    assert rows[good_school.name]["on_time"] == 1
    assert rows[good_school.name]["score"] == 100
    assert rows[bad_school.name]["recurrences"] == 1
    # 100 − 5 for the recurrence − 4 for each of its two open cases (the ranking's method).
    assert rows[bad_school.name]["score"] == 87
    assert len(rows) == 2  # the district sees its own schools only
