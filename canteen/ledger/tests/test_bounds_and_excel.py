"""Limits a guardian sets are bounded, and report cells from names are never formulas."""

import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from canteen.ledger import exports, reports
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", [10**20, 1_000_001, -1])
def test_a_daily_limit_out_of_range_is_a_400(world, api_client, value):
    child = world.students[0]
    api_client.force_authenticate(world.user(Role.GUARDIAN))
    response = api_client.put(
        f"/api/v1/ledger/students/{child.pk}/settings/",
        {"daily_limit_fen": value, "low_balance_alert_fen": None},
        format="json",
    )
    assert response.status_code == 400


def test_a_school_named_like_a_formula_stays_text_in_the_excel_report(world):
    school = world.campuses[0].school
    school.name = '=HYPERLINK("http://evil.example","点我")'
    school.save()
    today = timezone.localdate()
    report = reports.campus_report(actor=world.user(Role.SCHOOL_ADMIN), start=today.replace(day=1), end=today)
    sheet = load_workbook(io.BytesIO(exports.report_xlsx(report))).active
    cells = [row[0] for row in sheet.iter_rows(min_row=3) if str(row[0].value).startswith("=HYPERLINK")]
    assert cells, "the campus rows (named after their school) are in the report"
    assert all(cell.data_type == "s" and cell.quotePrefix for cell in cells)


@pytest.mark.parametrize("body", ["-2.4522918380901815e+32", "[1, 2]", '"text"'])
def test_a_provider_notification_that_is_not_an_object_is_a_400(api_client, body):
    response = api_client.post("/api/v1/ledger/provider/demo/notify/", body, content_type="application/json")
    assert response.status_code == 400
