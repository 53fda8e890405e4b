"""A school admin brings a class in with a real browser: template, upload, preview, confirm."""

from __future__ import annotations

import io

import pytest

from canteen.org.choices import Role
from canteen.org.models import Student
from canteen.org.tests.roster_files import pupil_row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_school_admin_downloads_the_template_uploads_it_filled_and_sees_the_pupils(world, login, page, tmp_path):
    import openpyxl

    admin = world.user(Role.SCHOOL_ADMIN)
    campus = world.campuses[0]
    login(admin.username, "pw-" + admin.username)
    if not page.is_visible("nav.mainnav >> text=名册导入"):  # a longer menu is grouped
        page.click("nav.mainnav summary >> text=学校")
    page.click("nav.mainnav >> text=名册导入")
    with page.expect_download() as download:
        page.click("[data-testid=template-link]")
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)

    # Fill the downloaded template as a school would, in Excel.
    workbook = openpyxl.load_workbook(template)
    sheet = workbook.worksheets[0]
    rows = [
        pupil_row("B20260001", "周一鸣", campus.code, gender="男", allergens="花生"),
        pupil_row("B20260002", "吴二妹", campus.code, guardian=("吴妈妈", "母亲", "13911112222")),
        pupil_row("B20260003", "郑三", campus.code, guardian=None),
    ]
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            sheet.cell(row=r, column=c, value=value)
    filled = tmp_path / "三年级1班.xlsx"
    out = io.BytesIO()
    workbook.save(out)
    filled.write_bytes(out.getvalue())

    page.set_input_files("input[name=file]", str(filled))
    page.click("[data-testid=upload-form] button[type=submit]")
    page.wait_for_selector("[data-testid=import-status]")
    assert "待确认" in page.inner_text("[data-testid=import-status]")
    assert "3" in page.inner_text("[data-testid=counts]")
    # The pupil without a guardian is flagged, not refused.
    assert "未填写监护人" in page.inner_text("[data-testid=row-messages]")
    assert not Student.objects.filter(student_number__startswith="B2026").exists()

    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=to-students]")
    assert "已导入" in page.inner_text("[data-testid=import-status]")
    assert page.inner_text("[data-testid=created]") == "3"
    page.click("[data-testid=to-students]")
    page.fill("input[name=q]", "B2026")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("text=周一鸣")
    for name in ("周一鸣", "吴二妹", "郑三"):
        assert name in page.content()
    assert Student.objects.get(student_number="B20260001").allergens == ["peanut"]
