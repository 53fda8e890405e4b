"""City sees all, a district its schools, a school its own cases; other people see nothing."""

from __future__ import annotations

import pytest

from canteen.core.errors import Forbidden
from canteen.org.choices import Role
from canteen.supervision import rollups, selectors, services
from canteen.supervision.choices import CaseSource
from canteen.supervision.errors import NotYourCase
from canteen.supervision.models import Case, DailyCampusStats, Feedback, RollupDelta

from . import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def spread(world):
    """One case and one meal at every campus of both districts."""
    for campus in world.campuses:
        services.case_open(
            actor=None, source=CaseSource.MANUAL, title=f"问题@{campus.code}", district_id=campus.school.district_id,
            school_id=campus.school_id, campus_id=campus.pk,
        )  # fmt: skip
        events.meal_served(campus)
        services.feedback_submit(canteen_code=f"{campus.code}K", kind="suggestion", text="好", ip=campus.code)
    return world


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.CITY_REGULATOR, 8),
        (Role.DISTRICT_REGULATOR, 4),
        (Role.SCHOOL_ADMIN, 2),
        (Role.CANTEEN_MANAGER, 1),
        (Role.GUARDIAN, 0),
        (Role.SUPPLIER_USER, 0),
    ],
)
def test_each_level_sees_its_own_rows(spread, role, expected):
    user = spread.user(role)
    assert selectors.cases_visible(actor=user).count() == expected
    assert RollupDelta.objects.visible_to(user).count() == expected
    rollups.fold_all()
    assert DailyCampusStats.objects.visible_to(user).count() == expected
    assert Feedback.objects.visible_to(user).count() == expected


def test_a_district_cannot_open_another_districts_dashboard(spread):
    district_user = spread.user(Role.DISTRICT_REGULATOR)
    other = spread.districts[1]
    with pytest.raises(Forbidden):
        selectors.resolve_unit(actor=district_user, level="district", unit_id=other.pk)
    with pytest.raises(Forbidden):
        selectors.resolve_unit(actor=district_user, level="campus", unit_id=spread.campuses[-1].pk)
    unit = selectors.default_unit(district_user)
    assert unit.level == "district"
    assert unit.id == spread.districts[0].pk


def test_city_dashboard_rolls_up_districts_and_drills_down(spread):
    from canteen.supervision.services import campus_dim_refresh

    campus_dim_refresh()
    city_user = spread.user(Role.CITY_REGULATOR)
    start, end = selectors.parse_range(None, None)
    unit = selectors.default_unit(city_user)
    city = selectors.dashboard(actor=city_user, unit=unit, start=start, end=end)
    assert city["meals_today"] == 8
    assert city["child_level"] == "district"
    assert sorted(c["meals_net"] for c in city["children"]) == [4, 4]
    assert city["cases"]["open"] == 8
    d = selectors.dashboard(
        actor=city_user, unit=selectors.resolve_unit(actor=city_user, level="district", unit_id=spread.districts[1].pk),
        start=start, end=end,
    )  # fmt: skip
    assert d["child_level"] == "school"
    assert [c["meals_net"] for c in d["children"]] == [2, 2]
    assert [b["level"] for b in d["breadcrumbs"]] == ["city", "district"]
    # Participation: one lunch over 3 enrolled pupils for one day at each campus.
    campus = selectors.resolve_unit(actor=city_user, level="campus", unit_id=spread.campuses[0].pk)
    c = selectors.dashboard(actor=city_user, unit=campus, start=start, end=end)
    assert c["totals"]["participation_rate"] == round(1 / 3, 4)


def test_a_school_cannot_move_another_schools_case(spread):
    other_case = Case.objects.exclude(school=spread.user(Role.SCHOOL_ADMIN).school).first()
    services.case_assign(case=other_case, actor=spread.user(Role.CITY_REGULATOR))
    with pytest.raises(NotYourCase):
        services.case_respond(case=other_case, actor=spread.user(Role.SCHOOL_ADMIN), note="x")


def test_inspections_are_scoped_like_cases(world):
    from canteen.supervision.models import Inspection

    services.inspection_plan(
        actor=world.user(Role.CITY_REGULATOR),
        campus_id=world.campuses[-1].pk,
        planned_on=world.campuses[0].created_at.date(),
    )
    assert Inspection.objects.visible_to(world.user(Role.CITY_REGULATOR)).count() == 1
    assert Inspection.objects.visible_to(world.user(Role.DISTRICT_REGULATOR)).count() == 0  # another district
    assert Inspection.objects.visible_to(world.user(Role.GUARDIAN)).count() == 0
    with pytest.raises(NotYourCase):  # a district cannot plan for another district's campus
        services.inspection_plan(
            actor=world.user(Role.DISTRICT_REGULATOR), campus_id=world.campuses[-1].pk,
            planned_on=world.campuses[0].created_at.date(),
        )  # fmt: skip
