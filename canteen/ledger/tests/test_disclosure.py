"""The monthly public disclosure (食堂财务公开): what a parent reads on the page and in the PDF."""

import io
from datetime import date

import pypdf
import pytest
from django.utils import timezone

from canteen.core.money import Money
from canteen.ledger import exports, reports, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def month_of_accounts(world):
    campus = world.campuses[0]
    student = world.students[0]
    services.top_up(student=student, amount=Money(100_000), channel="bank", idempotency_key="t", actor=None)
    for n in range(10):
        services.meal_charge(student=student, amount=Money(800), idempotency_key=f"m{n}", campus=campus)
    import uuid

    services.supplier_invoice_record(
        supplier_id=uuid.uuid4(),
        supplier_name="荆州蔬菜",
        campus=campus,
        amount=Money(5_000),
        reference="INV",
        idempotency_key="inv",
        actor=None,
    )
    services.other_cost_record(campus=campus, amount=Money(1_000), memo="燃气费", idempotency_key="gas", actor=None)
    return campus


def test_the_disclosure_adds_up(month_of_accounts):
    today = timezone.localdate()
    d = reports.disclosure_for(campus=month_of_accounts, year=today.year, month=today.month)
    assert d.income_fen == 8_000
    assert d.food_cost_fen == 5_000
    assert d.other_cost_fen == 1_000
    assert d.food_share_pct == "62.5%"
    assert d.meals == 10
    # The cost per meal is what the kitchen was issued from the store (none here), not the
    # month's purchases over the meals (procurement/tests/test_food_cost.py issues some).
    assert d.issued_cost_fen == 0
    assert d.cost_per_meal_fen == 0
    assert d.closing_fen == d.opening_fen + 2_000


def test_the_next_month_carries_the_balance_forward(month_of_accounts):
    today = timezone.localdate()
    following = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    d = reports.disclosure_for(campus=month_of_accounts, year=following.year, month=following.month)
    assert d.opening_fen == 2_000
    assert d.income_fen == 0
    assert d.closing_fen == 2_000


def test_the_pdf_says_it_in_chinese_and_english(month_of_accounts, client):
    today = timezone.localdate()
    response = client.get(f"/ledger/disclosure/{month_of_accounts.pk}/{today.year}/{today.month}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "食堂财务公开" in text
    assert month_of_accounts.school.name in text
    assert "本月伙食费收入" in text
    assert "80.00" in text
    assert "食材支出" in text
    assert "50.00" in text
    assert "62.5%" in text
    assert "结余结转下月" in text


def test_the_page_is_public_and_shows_no_personal_data(month_of_accounts, client, world):
    today = timezone.localdate()
    response = client.get(f"/ledger/disclosure/{month_of_accounts.pk}/{today.year}/{today.month}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "食堂财务公开" in html
    assert "62.5%" in html
    assert world.students[0].name not in html


def test_a_bad_month_is_not_found(month_of_accounts, client):
    assert client.get(f"/ledger/disclosure/{month_of_accounts.pk}/2026/13/").status_code == 404


def test_the_finance_report_exports_to_excel_and_pdf(month_of_accounts, world):
    from openpyxl import load_workbook

    from canteen.org.choices import Role

    today = timezone.localdate()
    report = reports.campus_report(actor=world.user(Role.SCHOOL_ADMIN), start=today.replace(day=1), end=today)
    row = next(r for r in report.rows if r.campus == month_of_accounts)
    assert (row.income_fen, row.food_cost_fen, row.meals, row.cost_per_meal_fen) == (8_000, 5_000, 10, 0)
    # The school admin sees only their own school's two campuses.
    assert len(report.rows) == 2
    sheet = load_workbook(io.BytesIO(exports.report_xlsx(report))).active
    values = [[c.value for c in r] for r in sheet.iter_rows(min_row=3)]
    first = next(v for v in values if v[0] == str(month_of_accounts))
    assert first[1] == 80.0
    assert first[4] == 50.0
    assert first[6] == 10
    assert first[7] == 0.0
    text = pypdf.PdfReader(io.BytesIO(exports.report_pdf(report))).pages[0].extract_text()
    assert "食堂财务报表" in text
    assert "80.00" in text
