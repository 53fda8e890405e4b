"""Subsidies as restricted money: granted only on school days, spent on meals before family money
(on both meal-charge paths), never paid out as cash, returned to the programme's fund when the
pupil leaves or the term ends, and reported per programme and funding source."""

from datetime import date

import pytest

from canteen.core.money import Money
from canteen.ledger import services, subsidies
from canteen.ledger.choices import AccountKind, FundingSource, PostingKind, ProgrammeKind
from canteen.ledger.models import Account, Entry, Posting
from canteen.ledger.selectors import balance_of
from canteen.ledger.subsidies import NotSchoolDay, allowance_balance
from canteen.org.choices import Role
from canteen.org.models import Student
from canteen.schoolcalendar.choices import EntryKind
from canteen.schoolcalendar.models import CalendarEntry

from .helpers import assert_books_balance

pytestmark = pytest.mark.django_db

NATIONAL_DAY = date(2026, 10, 1)
SUMMER_DAY = date(2026, 8, 5)
WINTER_DAY = date(2027, 2, 10)
MAKE_UP_SUNDAY = date(2026, 9, 20)
SCHOOL_DAY = date(2026, 11, 3)
CLOSED_DAY = date(2026, 11, 4)


@pytest.fixture
def calendar(world):
    district = world.districts[0]
    rows = [
        (EntryKind.TERM, "春季学期", date(2026, 3, 2), date(2026, 7, 10)),
        (EntryKind.VACATION, "暑假", date(2026, 7, 11), date(2026, 8, 31)),
        (EntryKind.TERM, "秋季学期", date(2026, 9, 1), date(2027, 1, 22)),
        (EntryKind.VACATION, "寒假", date(2027, 1, 23), date(2027, 2, 21)),
    ]
    for kind, name, start, end in rows:
        CalendarEntry.objects.create(district=district, kind=kind, name=name, start=start, end=end)
    campus = world.campuses[0]
    CalendarEntry.objects.create(
        district=district, school=campus.school, kind=EntryKind.CLOSURE, name="停课", start=CLOSED_DAY, end=CLOSED_DAY
    )
    return district


@pytest.fixture
def programme(world, calendar):
    return subsidies.programme_create(
        actor=None,
        district=calendar,
        code="NIP",
        name="营养改善计划",
        kind=ProgrammeKind.NUTRITION,
        funding_source=FundingSource.CENTRAL,
        per_day=Money(500),
        start=date(2026, 1, 1),
    )


@pytest.mark.parametrize("day", [NATIONAL_DAY, SUMMER_DAY, WINTER_DAY, CLOSED_DAY])
def test_no_grant_on_a_holiday_in_vacations_or_on_a_closure_day(world, calendar, day):
    student = world.students[0]
    with pytest.raises(NotSchoolDay):
        services.subsidy_grant(student=student, amount=Money(500), day=day)
    assert not Posting.objects.filter(kind=PostingKind.SUBSIDY).exists()


@pytest.mark.parametrize("day", [NATIONAL_DAY, SUMMER_DAY, WINTER_DAY])
def test_the_bulk_grant_refuses_days_without_school(world, calendar, programme, day):
    Student.objects.update(nutrition_programme=True)
    with pytest.raises(NotSchoolDay):
        services.subsidy_grant_bulk(district=calendar, day=day, actor=None)
    assert not Posting.objects.filter(kind=PostingKind.SUBSIDY).exists()


def test_a_make_up_working_day_in_term_gets_its_grant(world, calendar, programme):
    Student.objects.filter(campus__school__district=calendar).update(nutrition_programme=True)
    run = services.subsidy_grant_bulk(district=calendar, day=MAKE_UP_SUNDAY, actor=None)
    district_students = Student.objects.filter(campus__school__district=calendar).count()
    assert run.granted_fen == district_students * 500
    posting = Posting.objects.filter(kind=PostingKind.SUBSIDY).first()
    assert posting.counterparty_id == programme.pk
    fund = Account.objects.get(code=f"subsidy:{posting.campus_id}:{programme.pk}")
    assert fund.kind == AccountKind.SUBSIDY
    assert_books_balance()


def test_a_closure_day_skips_only_that_schools_pupils(world, calendar, programme):
    Student.objects.filter(campus__school__district=calendar).update(nutrition_programme=True)
    services.subsidy_grant_bulk(district=calendar, day=CLOSED_DAY, actor=None)
    closed_school = world.campuses[0].school
    granted = Posting.objects.filter(kind=PostingKind.SUBSIDY)
    assert granted.exists()
    assert not granted.filter(school_id=closed_school.pk).exists()


def _fund_wallet(student, fen):
    services.top_up(student=student, amount=Money(fen), channel="cash", idempotency_key=f"f:{student.pk}", actor=None)


def test_a_meal_is_paid_from_subsidy_first_and_the_rest_from_the_wallet(world, calendar, programme, ledger_path):
    student = world.students[0]
    _fund_wallet(student, 2_000)
    subsidies.subsidy_grant(student=student, amount=Money(500), day=SCHOOL_DAY, programme=programme)
    posting = services.meal_charge(student=student, amount=Money(650), idempotency_key="m1", campus=student.campus_id)
    legs = dict(Entry.objects.filter(posting=posting).values_list("account__kind", "amount_fen"))
    assert legs == {AccountKind.ALLOWANCE: -500, AccountKind.WALLET: -150, AccountKind.REVENUE: 650}
    assert allowance_balance(student=student) == Money(0)
    assert balance_of(student=student) == Money(1_850)
    assert posting.balance_after_fen == 1_850
    # A cheaper meal wholly covered by the subsidy leaves the wallet alone.
    subsidies.subsidy_grant(student=student, amount=Money(500), day=date(2026, 11, 5), programme=programme)
    second = services.meal_charge(student=student, amount=Money(300), idempotency_key="m2", campus=student.campus_id)
    legs = dict(Entry.objects.filter(posting=second).values_list("account__kind", "amount_fen"))
    assert legs == {AccountKind.ALLOWANCE: -300, AccountKind.REVENUE: 300}
    assert (allowance_balance(student=student), balance_of(student=student)) == (Money(200), Money(1_850))
    assert second.balance_after_fen == 1_850
    # Replayed: the same posting, nothing taken twice.
    again = services.meal_charge(student=student, amount=Money(300), idempotency_key="m2", campus=student.campus_id)
    assert again.pk == second.pk
    assert allowance_balance(student=student) == Money(200)
    assert_books_balance()


def test_a_refused_meal_leaves_the_subsidy_untouched(world, calendar, programme, ledger_path):
    from canteen.ledger.errors import InsufficientFunds

    student = world.students[0]
    subsidies.subsidy_grant(student=student, amount=Money(500), day=SCHOOL_DAY, programme=programme)
    with pytest.raises(InsufficientFunds):
        services.meal_charge(student=student, amount=Money(900), idempotency_key="big", campus=student.campus_id)
    assert allowance_balance(student=student) == Money(500)
    assert not Posting.objects.filter(kind=PostingKind.MEAL_CHARGE).exists()
    assert_books_balance()


def test_the_guardian_limit_counts_family_money_only(world, calendar, programme, ledger_path):
    student = world.students[0]
    _fund_wallet(student, 2_000)
    Account.objects.filter(code=f"wallet:{student.pk}").update(daily_limit_fen=200)
    subsidies.subsidy_grant(student=student, amount=Money(500), day=SCHOOL_DAY, programme=programme)
    services.meal_charge(student=student, amount=Money(650), idempotency_key="m", campus=student.campus_id)
    assert Account.objects.get(code=f"wallet:{student.pk}").spent_today_fen == 150


def test_a_leavers_unspent_subsidy_goes_back_to_the_fund_never_to_the_family(world, calendar, programme):
    student = world.students[0]
    manager = world.user(Role.CANTEEN_MANAGER)
    _fund_wallet(student, 3_000)
    for day in (SCHOOL_DAY, date(2026, 11, 5), date(2026, 11, 6)):
        subsidies.subsidy_grant(student=student, amount=Money(500), day=day, programme=programme)
    closure = services.account_close(student=student, actor=manager, idempotency_key="leave", reason="转学")
    assert closure.amount_fen == 3_000  # the family's own money only
    assert Account.objects.get(code=f"refund:{student.campus_id}").shown_fen == 3_000
    returned = Posting.objects.get(kind=PostingKind.SUBSIDY_RETURN, student=student)
    assert returned.amount_fen == 1_500
    fund = Account.objects.get(code=f"subsidy:{student.campus_id}:{programme.pk}")
    assert fund.current_fen == 0  # granted 1,500 out, 1,500 back
    allowance = Account.objects.get(code=f"allowance:{student.pk}")
    assert (allowance.balance_fen, allowance.status) == (0, "closed")
    # Closing again changes nothing; no grant reaches a closed allowance.
    assert services.account_close(student=student, actor=manager, idempotency_key="leave").pk == closure.pk
    assert Posting.objects.filter(kind=PostingKind.SUBSIDY_RETURN).count() == 1
    from canteen.ledger.errors import AccountClosed

    with pytest.raises(AccountClosed):
        subsidies.subsidy_grant(student=student, amount=Money(500), day=date(2026, 11, 9), programme=programme)
    assert_books_balance()


def test_unspent_subsidy_returns_to_its_fund_at_term_end(world, calendar, programme):
    student, other = world.students[0], world.students[1]
    subsidies.subsidy_grant(student=student, amount=Money(500), day=SCHOOL_DAY, programme=programme)
    subsidies.subsidy_grant(student=other, amount=Money(500), day=SCHOOL_DAY, programme=programme)
    _fund_wallet(other, 1_000)
    services.meal_charge(student=other, amount=Money(650), idempotency_key="o", campus=other.campus_id)
    returned = subsidies.subsidy_return_unspent(campus=student.campus_id, term_end=date(2027, 1, 22), actor=None)
    assert [(p.student_id, p.amount_fen) for p in returned] == [(student.pk, 500)]
    assert subsidies.subsidy_return_unspent(campus=student.campus_id, term_end=date(2027, 1, 22), actor=None) == []
    assert allowance_balance(student=student) == Money(0)
    assert balance_of(student=student) == Money(0)  # never the family's
    assert_books_balance()


def test_the_report_shows_each_programme_and_funding_source_per_campus(world, calendar, programme):
    boarding = subsidies.programme_create(
        actor=None,
        district=calendar,
        code="BOARD",
        name="寄宿生生活补助",
        kind=ProgrammeKind.BOARDING,
        funding_source=FundingSource.PROVINCIAL,
        per_day=Money(300),
        start=date(2026, 9, 1),
    )
    student = world.students[0]
    Student.objects.filter(pk=student.pk).update(nutrition_programme=True)
    subsidies.eligibility_add(actor=None, programme=boarding, student=student, start=date(2026, 9, 1))
    services.subsidy_grant_bulk(district=calendar, day=SCHOOL_DAY, actor=None)
    services.meal_charge(student=student, amount=Money(600), idempotency_key="m", campus=student.campus_id)
    services.account_close(student=student, actor=None, idempotency_key="bye")
    regulator = world.user(Role.DISTRICT_REGULATOR)
    report = subsidies.subsidy_report(actor=regulator, start=date(2026, 11, 1), end=date(2026, 12, 31))
    rows = {(r.campus_id, r.programme.code): r for r in report.rows if r.programme}
    nip, board = rows[(student.campus_id, "NIP")], rows[(student.campus_id, "BOARD")]
    assert (nip.granted_fen, board.granted_fen) == (500, 300)
    assert board.programme.get_funding_source_display().startswith("省级")
    # 800 granted, 600 spent on the meal, 200 returned (newest grants first).
    assert nip.returned_fen + board.returned_fen == 200
    assert report.spent_on_meals_fen[student.campus_id] == 600
    assert report.unspent_fen.get(student.campus_id, 0) == 0


def test_the_term_end_job_returns_what_is_unspent(world, calendar, programme):
    from datetime import timedelta

    from django.utils import timezone

    from canteen.ledger.tasks import return_subsidy_after_term_end

    student = world.students[0]
    yesterday = timezone.localdate() - timedelta(days=1)
    CalendarEntry.objects.create(
        district=calendar, school=student.campus.school, kind=EntryKind.TERM, name="本校学期",
        start=date(2026, 9, 1), end=yesterday,
    )  # fmt: skip
    subsidies.subsidy_grant(student=student, amount=Money(500), day=SCHOOL_DAY, programme=programme)
    assert return_subsidy_after_term_end() == "returned 500 fen"
    assert allowance_balance(student=student) == Money(0)
    assert return_subsidy_after_term_end() == "returned 0 fen"  # rerun-safe


def test_the_grant_command_refuses_a_holiday_clearly(world, calendar):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="非上学日"):
        call_command("ledger_subsidy_grant", "--day", NATIONAL_DAY.isoformat(), "--district", calendar.code)


def test_the_district_sets_up_a_programme_and_reads_its_report_through_the_api(world, calendar, api_client):
    regulator = world.user(Role.DISTRICT_REGULATOR)
    api_client.force_authenticate(regulator)
    body = {
        "code": "FREE",
        "name": "免费午餐",
        "kind": "free_meal",
        "funding_source": "donation",
        "per_day_fen": 400,
        "start": "2026-09-01",
    }
    created = api_client.post("/api/v1/ledger/programmes/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["funding_source_label"].startswith("社会捐助")
    assert api_client.post("/api/v1/ledger/programmes/", body, format="json").status_code == 400  # same code
    student = world.students[0]
    added = api_client.post(
        f"/api/v1/ledger/programmes/{created.json()['id']}/eligibility/",
        {"student": str(student.pk), "start": "2026-11-01"},
        format="json",
    )
    assert added.status_code == 201, added.content
    services.subsidy_grant_bulk(district=calendar, day=SCHOOL_DAY, actor=None)
    report = api_client.get("/api/v1/ledger/subsidy-report/", {"start": "2026-11-01", "end": "2026-11-30"}).json()
    assert report["rows"] == [
        {"campus_id": str(student.campus_id), "programme": "FREE", "funding_source": "donation",
         "granted_fen": 400, "returned_fen": 0}
    ]  # fmt: skip
    assert report["unspent_fen"] == {str(student.campus_id): 400}
    window = world.user(Role.WINDOW_OPERATOR)
    api_client.force_authenticate(window)
    assert api_client.post("/api/v1/ledger/programmes/", body, format="json").status_code == 403


def test_the_finance_page_lists_subsidies_by_programme_and_funding_source(world, calendar, programme, client):
    Student.objects.filter(pk=world.students[0].pk).update(nutrition_programme=True)
    services.subsidy_grant_bulk(district=calendar, day=SCHOOL_DAY, actor=None)
    client.force_login(world.user(Role.DISTRICT_REGULATOR))
    page = client.get("/ledger/finance/", {"start": "2026-11-01", "end": "2026-11-30"}).content.decode()
    table = page[page.index('data-testid="subsidy-report"') :]
    assert "营养改善计划" in table
    assert "中央财政" in table
    assert "¥5.00" in table


def test_the_guardian_sees_the_subsidy_balance_beside_the_family_money(world, calendar, programme, client):
    student = world.students[0]
    subsidies.subsidy_grant(student=student, amount=Money(500), day=SCHOOL_DAY, programme=programme)
    client.force_login(world.user(Role.GUARDIAN))
    page = client.get("/ledger/guardian/").content.decode()
    assert 'data-testid="allowance"' in page
    assert "¥5.00" in page[page.index('data-testid="allowance"') :]
