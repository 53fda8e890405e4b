"""Which days are school days: national holidays and make-up working days from chinese-calendar,
the district's terms and vacations, a school's own closures and terms; the district edits it."""

from datetime import date

import pytest

from canteen.core.errors import Forbidden, ValidationFailed
from canteen.core.models import AuditEvent
from canteen.org.choices import Role
from canteen.schoolcalendar import services
from canteen.schoolcalendar.choices import EntryKind
from canteen.schoolcalendar.models import CalendarEntry
from canteen.schoolcalendar.services import CalendarYearUnknown, is_school_day, school_days

pytestmark = pytest.mark.django_db

NATIONAL_DAY = date(2026, 10, 1)  # a public holiday (a Thursday)
MAKE_UP_SUNDAY = date(2026, 9, 20)  # 调休: a Sunday worked for the National Day holiday
ORDINARY_TUESDAY = date(2026, 10, 13)


@pytest.fixture
def term(world):
    district = world.districts[0]
    CalendarEntry.objects.create(
        district=district, kind=EntryKind.TERM, name="2026 秋季学期", start=date(2026, 9, 1), end=date(2027, 1, 22)
    )
    CalendarEntry.objects.create(
        district=district, kind=EntryKind.TERM, name="2026 春季学期", start=date(2026, 3, 2), end=date(2026, 7, 10)
    )
    CalendarEntry.objects.create(
        district=district, kind=EntryKind.VACATION, name="暑假", start=date(2026, 7, 11), end=date(2026, 8, 31)
    )
    CalendarEntry.objects.create(
        district=district, kind=EntryKind.VACATION, name="寒假", start=date(2027, 1, 23), end=date(2027, 2, 21)
    )
    return district


def test_a_public_holiday_is_no_school_day_and_a_make_up_sunday_is(world, term):
    campus = world.campuses[0]
    assert not is_school_day(campus, NATIONAL_DAY)
    assert is_school_day(campus, MAKE_UP_SUNDAY)
    assert is_school_day(campus, ORDINARY_TUESDAY)
    assert not is_school_day(campus, date(2026, 10, 11))  # an ordinary Sunday


def test_vacations_and_days_outside_every_term_have_no_school(world, term):
    campus = world.campuses[0]
    assert not is_school_day(campus, date(2026, 8, 5))  # summer vacation, a Wednesday
    # 2027 is beyond chinese-calendar 1.11's data, but the vacation answers for the day.
    assert not is_school_day(campus, date(2027, 2, 10))
    CalendarEntry.objects.filter(kind=EntryKind.VACATION, name="暑假").delete()
    assert not is_school_day(campus, date(2026, 8, 5))  # still outside every term


def test_a_school_closure_and_a_school_extra_day_override_the_district(world, term):
    campus, other_school_campus = world.campuses[0], world.campuses[2]
    assert campus.school_id != other_school_campus.school_id
    CalendarEntry.objects.create(
        district=term,
        school=campus.school,
        kind=EntryKind.CLOSURE,
        name="运动会",
        start=ORDINARY_TUESDAY,
        end=ORDINARY_TUESDAY,
    )
    assert not is_school_day(campus, ORDINARY_TUESDAY)
    assert is_school_day(other_school_campus, ORDINARY_TUESDAY)
    saturday = date(2026, 10, 17)
    CalendarEntry.objects.create(
        district=term, school=campus.school, kind=EntryKind.SCHOOL_DAY, name="补课", start=saturday, end=saturday
    )
    assert is_school_day(campus, saturday)
    assert not is_school_day(other_school_campus, saturday)


def test_a_school_with_its_own_term_dates_follows_them(world, term):
    campus = world.campuses[0]
    CalendarEntry.objects.create(
        district=term,
        school=campus.school,
        kind=EntryKind.TERM,
        name="本校秋季学期",
        start=date(2026, 9, 7),
        end=date(2027, 1, 15),
    )
    assert not is_school_day(campus, date(2026, 9, 2))
    assert is_school_day(world.campuses[2], date(2026, 9, 2))


def test_a_district_without_terms_has_school_on_every_national_working_day(world):
    campus = world.campuses[0]
    assert is_school_day(campus, date(2026, 8, 5))
    assert not is_school_day(campus, NATIONAL_DAY)


def test_a_year_beyond_the_holiday_data_is_a_clear_error(world, term):
    with pytest.raises(CalendarYearUnknown) as caught:
        is_school_day(world.campuses[0], date(2027, 1, 5))  # in term
    assert caught.value.details["year"] == 2027
    assert "chinese-calendar" in caught.value.message_en


def test_school_days_lists_a_week_with_a_holiday(world, term):
    days = school_days(world.campuses[0], date(2026, 9, 28), date(2026, 10, 11))
    # National Day week: 1-7 October off; 10 October (Saturday) is a make-up working day.
    assert days == [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 9),
                    date(2026, 10, 10)]  # fmt: skip


def test_the_district_edits_its_calendar_and_a_school_only_its_own(world):
    regulator = world.user(Role.DISTRICT_REGULATOR)
    district = regulator.district
    entry = services.calendar_entry_create(
        actor=regulator, district=district, kind=EntryKind.EXAM, name="期中考试", start=date(2026, 11, 9),
        end=date(2026, 11, 10),
    )  # fmt: skip
    assert AuditEvent.objects.filter(action="schoolcalendar.entry_created", target_id=str(entry.pk)).exists()
    with pytest.raises(ValidationFailed):
        services.calendar_entry_create(
            actor=regulator, district=district, kind=EntryKind.TERM, name="x", start=date(2026, 2, 1),
            end=date(2026, 1, 1),
        )  # fmt: skip
    admin = world.user(Role.SCHOOL_ADMIN)
    with pytest.raises(Forbidden):
        services.calendar_entry_create(
            actor=admin, district=admin.school.district, kind=EntryKind.CLOSURE, name="x", start=date(2026, 11, 2),
            end=date(2026, 11, 2),
        )  # fmt: skip
    own = services.calendar_entry_create(
        actor=admin, district=admin.school.district, school=admin.school, kind=EntryKind.CLOSURE, name="停电",
        start=date(2026, 11, 2), end=date(2026, 11, 2),
    )  # fmt: skip
    assert own.school_id == admin.school_id


def test_the_api_lists_creates_and_explains_school_days(world, api_client, term):
    regulator = world.user(Role.DISTRICT_REGULATOR)
    api_client.force_authenticate(regulator)
    created = api_client.post(
        "/api/v1/schoolcalendar/entries/",
        {"kind": "closure", "name": "台风停课", "start": "2026-10-14", "end": "2026-10-14"},
        format="json",
    )
    assert created.status_code == 201, created.content
    listed = api_client.get("/api/v1/schoolcalendar/entries/")
    assert {e["name"] for e in listed.json()} >= {"台风停课", "2026 秋季学期"}
    campus = world.campuses[0]
    days = api_client.get(
        f"/api/v1/schoolcalendar/campuses/{campus.pk}/school-days/", {"start": "2026-10-13", "end": "2026-10-14"}
    ).json()
    assert [(d["day"], d["school_day"]) for d in days] == [("2026-10-13", True), ("2026-10-14", False)]
    assert days[1]["reason"] == "台风停课"
    bad = api_client.post(
        "/api/v1/schoolcalendar/entries/",
        {"kind": "closure", "name": "x", "start": "2026-10-14", "end": "2026-10-01"},
        format="json",
    )
    assert bad.status_code == 400


def test_the_calendar_page_shows_and_adds_entries(world, client, term):
    client.force_login(world.user(Role.DISTRICT_REGULATOR))
    page = client.get("/calendar/")
    assert page.status_code == 200
    assert "2026 秋季学期" in page.content.decode()
    posted = client.post(
        "/calendar/", {"kind": "exam", "name": "期末考试", "start": "2027-01-18", "end": "2027-01-20", "school": ""}
    )
    assert posted.status_code == 302
    assert CalendarEntry.objects.filter(name="期末考试", kind="exam").exists()
