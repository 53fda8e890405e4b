"""Roster import: a school's (or a whole district's) pupils and guardians from Excel or CSV.

Three steps, each a function:
- `roster_read(data, filename)`: bytes → header + rows, or a file-level error (size, format,
  columns). openpyxl in read-only mode streams .xlsx; csv reads .csv (UTF-8 or GB18030, as
  Excel on a Chinese Windows saves it).
- `roster_validate(...)`: every row's errors and warnings against the file and the database,
  nothing written. The preview shows this; an import with any error cannot be applied.
- `roster_apply(...)`: writes in chunks with bulk statements (classes, students, guardians,
  links), updating by student number: a pupil already known is updated, never duplicated, and
  an unchanged row writes nothing. One RosterImport row and one audit event record who imported
  what.

The student number (学籍号) is unique in the country, so it is looked up across the district: a
number that belongs to another school is an error, not a second pupil.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import Forbidden, ValidationFailed
from canteen.core.i18n import tr

from .choices import Gender, Relation, Role, StudentStatus
from .models import (
    Campus,
    District,
    Guardian,
    GuardianLink,
    RosterImport,
    RosterImportStatus,
    School,
    SchoolClass,
    Student,
    User,
)

# -- the columns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    required: bool = False
    width: int = 14

    @property
    def header(self) -> str:
        return f"{self.zh} {self.en}"


COLUMNS: list[Column] = [
    Column("student_number", "学籍号", "Student number", True, 22),
    Column("name", "姓名", "Name", True),
    Column("gender", "性别", "Gender", True, 10),
    Column("birth_date", "出生日期", "Birth date", True),
    Column("grade", "年级", "Grade", True, 10),
    Column("class_name", "班级", "Class", True),
    Column("campus", "校区", "Campus", True, 18),
    Column("boarding", "寄宿", "Boarding", False, 10),
    Column("nutrition_programme", "营养改善计划", "Nutrition programme", False, 12),
    Column("allergens", "过敏原", "Allergens", False, 20),
    Column("diet_notes", "饮食需求", "Dietary needs", False, 24),
    Column("guardian_name", "监护人姓名", "Guardian name", False),
    Column("guardian_relation", "监护人关系", "Guardian relation", False),
    Column("guardian_mobile", "监护人手机", "Guardian mobile", False, 16),
    Column("guardian2_name", "监护人2姓名", "Guardian 2 name", False),
    Column("guardian2_relation", "监护人2关系", "Guardian 2 relation", False),
    Column("guardian2_mobile", "监护人2手机", "Guardian 2 mobile", False, 16),
]
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


def _norm_header(text: Any) -> str:
    return re.sub(r"[\s_*（）()/:：]+", "", str(text or "")).lower()


# A header cell is recognised by its Chinese part, its English part or both.
_HEADER_ALIASES: dict[str, str] = {}
for _c in COLUMNS:
    for _alias in (_c.zh, _c.en, _c.header, _c.key):
        _HEADER_ALIASES[_norm_header(_alias)] = _c.key
_HEADER_ALIASES[_norm_header("学号")] = "student_number"


def max_bytes() -> int:
    return int(getattr(settings, "CANTEEN_ROSTER_MAX_BYTES", 10 * 1024 * 1024))


def max_rows() -> int:
    return int(getattr(settings, "CANTEEN_ROSTER_MAX_ROWS", 100_000))


# -- messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    zh: str
    en: str
    column: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en, "column": self.column}

    def __str__(self) -> str:
        return tr(self.zh, self.en)


class RosterFileError(ValidationFailed):
    code = "roster_file_invalid"


# -- reading ---------------------------------------------------------------------------------


@dataclass
class Sheet:
    columns: list[str]  # column keys in file order (None-free)
    positions: dict[str, int]
    rows: list[tuple[int, list[Any]]]  # (row number in the file, cells)


_NOT_XLSX = (
    "文件不是 Excel（.xlsx）文件，请用 Excel 另存为 .xlsx 或 .csv",
    "The file is not an Excel (.xlsx) workbook; save it from Excel as .xlsx or .csv",
)
_DAMAGED = ("无法读取该 Excel 文件，文件可能已损坏", "The Excel file cannot be read; it may be damaged")
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def max_unzipped_bytes() -> int:
    """The most a workbook may inflate to: a zip bomb is refused before any reader sees it."""
    return int(getattr(settings, "CANTEEN_ROSTER_MAX_UNZIPPED_BYTES", 400 * 1024 * 1024))


def _has_formulas(data: bytes) -> bool:
    """Whether any worksheet holds a formula cell, reading the sheets' XML as a stream (and
    refusing a workbook that inflates beyond the limit)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if m.filename.startswith("xl/worksheets/")]
        if not any(m.filename == "xl/workbook.xml" for m in archive.infolist()):
            raise RosterFileError(*_NOT_XLSX)
        if sum(m.file_size for m in archive.infolist()) > max_unzipped_bytes():
            raise RosterFileError("Excel 文件解压后过大", "The Excel file is too large once unpacked")
        found = False
        for member in members:
            read = 0
            tail = b""
            with archive.open(member) as stream:
                while chunk := stream.read(1 << 20):
                    read += len(chunk)
                    if read > max_unzipped_bytes():  # the sizes in a zip's directory can lie
                        raise RosterFileError("Excel 文件解压后过大", "The Excel file is too large once unpacked")
                    if not found and _FORMULA_TAG.search(tail + chunk):
                        found = True
                    tail = chunk[-16:]
        return found
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise RosterFileError(*_DAMAGED) from exc


def _cells_xlsx(data: bytes) -> Iterator[list[Any]]:
    """Rows of the first sheet. Calamine (Rust) reads a plain roster ten times faster than
    openpyxl; a workbook with formulas is read by openpyxl instead, which sees each formula as
    its text ("=HYPERLINK(...)") so the row is refused, where calamine would see only the value
    Excel last computed."""
    if not data.startswith(b"PK\x03\x04"):
        raise RosterFileError(*_NOT_XLSX)
    if not _has_formulas(data):
        from python_calamine import CalamineWorkbook

        try:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
            rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
        except Exception as exc:  # noqa: BLE001 - calamine raises its own error types for a damaged file
            raise RosterFileError(*_DAMAGED) from exc
        for row in rows:
            yield list(row)
        return
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # data_only=False: a formula cell reads as its formula text and is refused.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RosterFileError(*_DAMAGED) from exc
    try:
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            yield list(row)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RosterFileError(*_DAMAGED) from exc
    finally:
        workbook.close()


def _cells_csv(data: bytes) -> Iterator[list[Any]]:
    if b"\x00" in data[:4096]:
        raise RosterFileError("文件不是文本格式的 CSV", "The file is not a text CSV file")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise RosterFileError("无法识别文件编码", "The file's text encoding is not recognised")
    yield from csv.reader(io.StringIO(text))


def roster_read(*, data: bytes, filename: str) -> Sheet:
    """The file's header and rows; RosterFileError for a file that cannot be a roster."""
    if len(data) > max_bytes():
        raise RosterFileError(
            f"文件过大（{len(data) // (1024 * 1024)} MB），上限 {max_bytes() // (1024 * 1024)} MB",
            f"The file is too large ({len(data) // (1024 * 1024)} MB); the limit is {max_bytes() // (1024 * 1024)} MB",
            details={"size_bytes": len(data), "max_bytes": max_bytes()},
        )
    if not data:
        raise RosterFileError("文件为空", "The file is empty")
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        cells = _cells_xlsx(data)
    elif lower.endswith(".csv"):
        cells = _cells_csv(data)
    elif lower.endswith(".xls"):
        raise RosterFileError(
            "不支持旧版 .xls，请在 Excel 中另存为 .xlsx", "Old .xls files are not supported; save as .xlsx in Excel"
        )
    else:
        raise RosterFileError("请上传 .xlsx 或 .csv 文件", "Upload an .xlsx or .csv file")

    header: list[Any] | None = None
    for row in cells:
        if any(_text(v) for v in row):
            header = row
            header_row = 1
            break
    if header is None:
        raise RosterFileError("文件中没有数据", "The file has no data")
    positions: dict[str, int] = {}
    unknown: list[str] = []
    for i, cell in enumerate(header):
        if not _text(cell):
            continue
        key = _HEADER_ALIASES.get(_norm_header(cell))
        if key is None:
            unknown.append(_text(cell)[:40])
        elif key in positions:
            raise RosterFileError(f"列“{_text(cell)}”重复", f"The column “{_text(cell)}” appears twice")
        else:
            positions[key] = i
    missing = [c for c in COLUMNS if c.required and c.key not in positions]
    if missing or unknown:
        raise RosterFileError(
            "列不符合模板："
            + (f"缺少 {', '.join(c.zh for c in missing)}" if missing else "")
            + ("；" if missing and unknown else "")
            + (f"无法识别 {', '.join(unknown)}" if unknown else "")
            + "。请下载模板。",
            "The columns do not match the template: "
            + (f"missing {', '.join(c.en for c in missing)}" if missing else "")
            + ("; " if missing and unknown else "")
            + (f"not recognised {', '.join(unknown)}" if unknown else "")
            + ". Download the template.",
            code="roster_columns",
            details={"missing": [c.key for c in missing], "unknown": unknown},
        )
    rows: list[tuple[int, list[Any]]] = []
    number = header_row
    for row in cells:
        number += 1
        if not any(_text(v) for v in row):
            continue
        if len(rows) >= max_rows():
            raise RosterFileError(
                f"行数超过上限 {max_rows()}", f"More than {max_rows()} rows", details={"max_rows": max_rows()}
            )
        rows.append((number, row))
    if not rows:
        raise RosterFileError("文件中只有表头，没有学生", "The file has a header but no pupils")
    return Sheet(columns=list(positions), positions=positions, rows=rows)


# -- parsing cells ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# A cell that a spreadsheet would run as a formula (CWE-1236): refused on import, and escaped on
# every export of names (see `spreadsheet_safe`).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def looks_like_formula(text: str) -> bool:
    return text.startswith(_FORMULA_START)


def spreadsheet_safe(value: Any) -> Any:
    """A value for an exported CSV/XLSX cell that no spreadsheet will evaluate."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


_STUDENT_NUMBER = re.compile(r"^[A-Za-z0-9]{4,32}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_GENDERS = {"男": Gender.MALE, "m": Gender.MALE, "male": Gender.MALE, "女": Gender.FEMALE, "f": Gender.FEMALE}
_GENDERS["female"] = Gender.FEMALE
_YES = {"是", "y", "yes", "1", "true", "寄宿", "√"}
_NO = {"", "否", "n", "no", "0", "false", "走读", "×"}
_CN_NUM = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_CN_NUM.update({"十一": 11, "十二": 12})
_STAGE_GRADE = {"初": 6, "高": 9}
_RELATIONS = {
    "父亲": Relation.FATHER,
    "父": Relation.FATHER,
    "爸爸": Relation.FATHER,
    "father": Relation.FATHER,
    "母亲": Relation.MOTHER,
    "母": Relation.MOTHER,
    "妈妈": Relation.MOTHER,
    "mother": Relation.MOTHER,
    "祖辈": Relation.GRANDPARENT,
    "爷爷": Relation.GRANDPARENT,
    "奶奶": Relation.GRANDPARENT,
    "外公": Relation.GRANDPARENT,
    "外婆": Relation.GRANDPARENT,
    "祖父": Relation.GRANDPARENT,
    "祖母": Relation.GRANDPARENT,
    "外祖父": Relation.GRANDPARENT,
    "外祖母": Relation.GRANDPARENT,
    "grandparent": Relation.GRANDPARENT,
    "其他": Relation.OTHER,
    "其他监护人": Relation.OTHER,
    "other": Relation.OTHER,
    "": Relation.OTHER,
}


def _allergen_lookup() -> dict[str, str]:
    from canteen.meals.choices import Allergen

    table: dict[str, str] = {}
    for code, label in Allergen.choices:
        zh, _, en = str(label).partition(" ")
        for alias in (code, zh, en, str(label)):
            table[alias.lower()] = code
    return table


def parse_grade(text: str) -> int | None:
    text = text.replace("年级", "").strip()
    if text.isdigit():
        n = int(text)
    elif text in _CN_NUM:
        n = _CN_NUM[text]
    elif len(text) == 2 and text[0] in _STAGE_GRADE and text[1] in _CN_NUM:
        n = _STAGE_GRADE[text[0]] + _CN_NUM[text[1]]
    else:
        return None
    return n if 1 <= n <= 12 else None


def parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        return date.fromisoformat(text)  # the template's format, and the fast path
    except ValueError:
        pass
    text = text.replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").rstrip("日")
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError:
            continue
    return None


def school_year_start(today: date | None = None) -> int:
    """The calendar year the current school year began in (it starts in September)."""
    today = today or timezone.localdate()
    return today.year if today.month >= 8 else today.year - 1


# -- validation ------------------------------------------------------------------------------


@dataclass
class GuardianIn:
    name: str
    relation: str
    mobile: str


@dataclass
class RowIn:
    row: int
    student_number: str
    values: dict[str, Any] = field(default_factory=dict)  # Student fields given by the file
    campus_id: Any = None
    grade: int = 0
    class_name: str = ""
    guardians: list[GuardianIn] = field(default_factory=list)
    errors: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)


@dataclass
class Validation:
    rows: list[RowIn]
    district: District
    school: School | None
    present: set[str]
    known: dict[str, tuple] = field(default_factory=dict)  # student_number → existing row values

    @property
    def error_count(self) -> int:
        return sum(len(r.errors) for r in self.rows)

    @property
    def warning_count(self) -> int:
        return sum(len(r.warnings) for r in self.rows)

    def report(self, limit: int = 2000) -> dict[str, Any]:
        """Rows with an error or a warning (the first `limit`), for the preview and the API."""
        flagged = [r for r in self.rows if r.errors or r.warnings]
        return {
            "file_errors": [],
            "rows": [
                {
                    "row": r.row,
                    "student_number": r.student_number,
                    "errors": [m.as_dict() for m in r.errors],
                    "warnings": [m.as_dict() for m in r.warnings],
                }
                for r in flagged[:limit]
            ],
            "rows_flagged": len(flagged),
        }


_KNOWN_FIELDS = (
    "student_number",
    "id",
    "campus_id",
    "campus__school_id",
    "school_class_id",
    "name",
    "gender",
    "birth_date",
    "boarding",
    "nutrition_programme",
    "allergens",
    "diet_notes",
    "status",
)


def _check_text(row: RowIn, key: str, text: str, limit: int, *, required: bool) -> str:
    column = COLUMN_BY_KEY[key]
    if required and not text:
        row.errors.append(Message(f"{column.zh}不能为空", f"{column.en} is required", key))
    elif looks_like_formula(text):
        row.errors.append(
            Message(
                f"{column.zh}不能以 = + - @ 开头（可能是表格公式）",
                f"{column.en} may not start with = + - @ (it would run as a spreadsheet formula)",
                key,
            )
        )
    elif len(text) > limit:
        row.errors.append(Message(f"{column.zh}超过 {limit} 个字符", f"{column.en} is over {limit} characters", key))
    elif _CONTROL.search(text):
        row.errors.append(Message(f"{column.zh}含有控制字符", f"{column.en} contains control characters", key))
    return text


def roster_validate(*, sheet: Sheet, district: District, school: School | None) -> Validation:
    """Every row's errors and warnings; reads the database, writes nothing."""
    campuses = Campus.objects.filter(school__district=district)
    if school is not None:
        campuses = campuses.filter(school=school)
    by_code: dict[str, Campus] = {}
    by_name: dict[str, list[Campus]] = {}
    for campus in campuses.select_related("school"):
        by_code[campus.code.lower()] = campus
        by_name.setdefault(campus.name, []).append(campus)
        by_name.setdefault(f"{campus.school.name}{campus.name}", []).append(campus)
        by_name.setdefault(f"{campus.school.name}·{campus.name}", []).append(campus)
    allergens = _allergen_lookup()
    present = set(sheet.columns)
    pos = sheet.positions

    def cell(cells: list[Any], key: str) -> Any:
        i = pos.get(key)
        return cells[i] if i is not None and i < len(cells) else None

    today = timezone.localdate()
    rows: list[RowIn] = []
    seen: dict[str, int] = {}
    for number, cells in sheet.rows:
        student_number = _text(cell(cells, "student_number"))
        row = RowIn(row=number, student_number=student_number[:40])
        rows.append(row)
        if not student_number:
            row.errors.append(Message("学籍号不能为空", "Student number is required", "student_number"))
        elif not _STUDENT_NUMBER.match(student_number):
            row.errors.append(
                Message(
                    "学籍号只能是 4–32 位字母或数字", "Student number must be 4–32 letters or digits", "student_number"
                )
            )
        elif student_number in seen:
            row.errors.append(
                Message(
                    f"学籍号与第 {seen[student_number]} 行重复",
                    f"The student number repeats row {seen[student_number]}",
                    "student_number",
                )
            )
        else:
            seen[student_number] = number
        v = row.values
        v["name"] = _check_text(row, "name", _text(cell(cells, "name")), 40, required=True)
        gender = _GENDERS.get(_text(cell(cells, "gender")).lower())
        if gender is None:
            row.errors.append(Message("性别须为 男 或 女", "Gender must be 男/M or 女/F", "gender"))
        v["gender"] = gender
        birth = parse_date(cell(cells, "birth_date"))
        if birth is None or not (date(1990, 1, 1) <= birth <= today):
            row.errors.append(
                Message("出生日期无效（格式 2016-03-01）", "Birth date is not valid (e.g. 2016-03-01)", "birth_date")
            )
        v["birth_date"] = birth
        grade = parse_grade(_text(cell(cells, "grade")))
        if grade is None:
            row.errors.append(Message("年级须为 1–12（或 三年级、初一）", "Grade must be 1–12", "grade"))
        row.grade = grade or 0
        row.class_name = _check_text(row, "class_name", _text(cell(cells, "class_name")), 40, required=True)
        campus_text = _text(cell(cells, "campus"))
        campus = by_code.get(campus_text.lower())
        if campus is None:
            named = by_name.get(campus_text, [])
            campus = named[0] if len(named) == 1 else None
        if campus is None:
            where_zh, where_en = ("本校", "this school") if school else ("本区", "this district")
            row.errors.append(
                Message(
                    f"校区“{campus_text[:30]}”不属于{where_zh}",
                    f"The campus “{campus_text[:30]}” is not one of {where_en}",
                    "campus",
                )
            )
        else:
            row.campus_id = campus.pk
        for key in ("boarding", "nutrition_programme"):
            if key in present:
                flag = _text(cell(cells, key)).lower()
                if flag in _YES:
                    v[key] = True
                elif flag in _NO:
                    v[key] = False
                else:
                    row.errors.append(
                        Message(
                            f"{COLUMN_BY_KEY[key].zh}须为 是 或 否", f"{COLUMN_BY_KEY[key].en} must be yes or no", key
                        )
                    )
        if "allergens" in present:
            codes: list[str] = []
            for part in re.split(r"[,，、;；/\s]+", _text(cell(cells, "allergens"))):
                if not part or part in ("无", "none"):
                    continue
                code = allergens.get(part.lower())
                if code is None:
                    row.errors.append(
                        Message(f"未知的过敏原“{part[:20]}”", f"Unknown allergen “{part[:20]}”", "allergens")
                    )
                elif code not in codes:
                    codes.append(code)
            v["allergens"] = sorted(codes)
        if "diet_notes" in present:
            v["diet_notes"] = _check_text(row, "diet_notes", _text(cell(cells, "diet_notes")), 200, required=False)
        for prefix in ("guardian", "guardian2"):
            name = _text(cell(cells, f"{prefix}_name"))
            mobile = re.sub(r"[\s-]", "", _text(cell(cells, f"{prefix}_mobile")))
            relation_text = _text(cell(cells, f"{prefix}_relation"))
            if not (name or mobile or relation_text):
                continue
            _check_text(row, f"{prefix}_name", name, 40, required=True)
            if not _MOBILE.match(mobile):
                row.errors.append(
                    Message(
                        "监护人手机号须为 11 位大陆手机号",
                        "Guardian mobile must be an 11-digit mainland mobile number",
                        f"{prefix}_mobile",
                    )
                )
            relation = _RELATIONS.get(relation_text.lower())
            if relation is None:
                row.errors.append(
                    Message(
                        "监护人关系须为 父亲、母亲、祖辈 或 其他",
                        "Guardian relation must be father, mother, grandparent or other",
                        f"{prefix}_relation",
                    )
                )
            if any(g.mobile == mobile for g in row.guardians):
                row.errors.append(
                    Message("两位监护人的手机号相同", "The two guardians have the same mobile", f"{prefix}_mobile")
                )
            row.guardians.append(GuardianIn(name=name, relation=relation or Relation.OTHER, mobile=mobile))
        if not row.guardians:
            row.warnings.append(
                Message(
                    "未填写监护人，家长需凭绑定码绑定", "No guardian given; the family must bind with the binding code"
                )
            )

    # One mobile is one guardian: the first row that names them gives the name.
    names: dict[str, tuple[str, int]] = {}
    for row in rows:
        for g in row.guardians:
            first = names.setdefault(g.mobile, (g.name, row.row))
            if first[0] != g.name:
                row.warnings.append(
                    Message(
                        f"手机号 {g.mobile} 在第 {first[1]} 行的监护人姓名为“{first[0]}”，以该行为准",
                        f"Mobile {g.mobile} has the guardian name “{first[0]}” on row {first[1]}; that name is kept",
                        "guardian_name",
                    )
                )
                g.name = first[0]

    allowed = {c.pk for c in by_code.values()}
    return _check_against_db(rows=rows, district=district, school=school, present=present, allowed_campuses=allowed)


def _check_against_db(
    *, rows: list[RowIn], district: District, school: School | None, present: set[str], allowed_campuses: set
) -> Validation:
    """The checks that depend on the database as it is now: run at the preview and again at the
    confirmation."""
    # Against the database: the student number is unique across the district (and the country).
    known = _known_students([r.student_number for r in rows if r.student_number], district)
    for row in rows:
        existing = known.get(row.student_number)
        if existing is None or row.errors:
            continue
        ex = dict(zip(_KNOWN_FIELDS, existing, strict=True))
        if school is not None and ex["campus__school_id"] != school.pk or ex["campus_id"] not in allowed_campuses:
            row.errors.append(
                Message(
                    "该学籍号属于其他学校的学生，请由原学校办理转出",
                    "This student number belongs to a pupil of another school; that school must transfer them out",
                    "student_number",
                )
            )
            continue
        if row.campus_id and ex["campus_id"] != row.campus_id:
            row.errors.append(
                Message(
                    "该学生在本校另一校区，请使用“转校区”办理",
                    "This pupil is on another campus of the school; use a campus transfer",
                    "campus",
                )
            )
            continue
        if ex["name"] != row.values.get("name"):
            row.warnings.append(
                Message(f"姓名将由“{ex['name']}”改为新值", f"The name will change from “{ex['name']}”", "name")
            )
        if ex["status"] != StudentStatus.ENROLLED:
            row.warnings.append(
                Message(
                    "该学生当前不在读，导入只更新资料，不改变学籍状态",
                    "This pupil is not enrolled; the import updates details only, not the status",
                )
            )
    return Validation(rows=rows, district=district, school=school, present=present, known=known)


def _known_students(numbers: list[str], district: District) -> dict[str, tuple]:
    """The district's pupils with these numbers. A large file reads the whole district in one
    scan, cheaper than a long IN list; a small one asks for its numbers."""
    pupils = Student.objects.filter(campus__school__district=district)
    found: dict[str, tuple] = {}
    if len(numbers) > 5000:
        wanted = set(numbers)
        for values in pupils.values_list(*_KNOWN_FIELDS).iterator(chunk_size=10_000):
            if values[0] in wanted:
                found[values[0]] = values
        return found
    for values in pupils.filter(student_number__in=numbers).values_list(*_KNOWN_FIELDS):
        found[values[0]] = values
    return found


# -- permission ------------------------------------------------------------------------------


def roster_target(
    *, actor: User, school: School | None, district: District | None = None
) -> tuple[District, School | None]:
    """Who may import where: a school admin its own school; a district regulator its district or
    one of its schools; a superuser anywhere."""
    if school is not None:
        district = school.district
    if district is None:
        raise ValidationFailed("请选择学校或区", "Choose a school or a district")
    if actor.is_superuser:
        return district, school
    if actor.role == Role.SCHOOL_ADMIN and school is not None and actor.school_id == school.pk:
        return district, school
    if actor.role == Role.DISTRICT_REGULATOR and actor.district_id == district.pk:
        return district, school
    raise Forbidden("无权导入该学校或区的名册", "You may not import a roster for this school or district")


# -- preview ---------------------------------------------------------------------------------


@transaction.atomic
def roster_preview(
    *, actor: User, data: bytes, filename: str, school: School | None, district: District | None = None
) -> RosterImport:
    """Read and check a file; store it with its report until it is confirmed. Nothing of the
    roster is written. A file-level problem is stored as a rejected import with one message."""
    district, school = roster_target(actor=actor, school=school, district=district)
    record = RosterImport(
        actor=actor,
        district=district,
        school=school,
        filename=filename[:200],
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )
    try:
        sheet = roster_read(data=data, filename=filename)
        validation = roster_validate(sheet=sheet, district=district, school=school)
    except RosterFileError as exc:
        record.status = RosterImportStatus.REJECTED
        record.error_count = 1
        record.report = {"file_errors": [{"zh": exc.message_zh, "en": exc.message_en, "column": ""}], "rows": []}
        record.save()
        return record
    record.rows_total = len(validation.rows)
    record.error_count = validation.error_count
    record.warning_count = validation.warning_count
    record.report = validation.report()
    record.counts = _plan_counts(validation)
    if validation.error_count:
        record.status = RosterImportStatus.REJECTED
    else:
        record.status = RosterImportStatus.PREVIEWED
        record.content = _rows_dump(validation)
    record.save()
    return record


def _rows_dump(validation: Validation) -> bytes:
    """The checked rows, compressed, kept with the import until it is confirmed: the confirmation
    then repeats only the checks against the database instead of reading the file again."""
    rows = [
        [
            r.row,
            r.student_number,
            {k: (v.isoformat() if isinstance(v, date) else v) for k, v in r.values.items()},
            str(r.campus_id),
            r.grade,
            r.class_name,
            [[g.name, g.relation, g.mobile] for g in r.guardians],
        ]
        for r in validation.rows
    ]
    return zlib.compress(json.dumps({"present": sorted(validation.present), "rows": rows}).encode(), 1)


def _rows_load(blob: bytes, *, district: District, school: School | None) -> Validation:
    data = json.loads(zlib.decompress(blob))
    rows = []
    for number, student_number, values, campus_id, grade, class_name, guardians in data["rows"]:
        values["birth_date"] = date.fromisoformat(values["birth_date"])
        rows.append(
            RowIn(
                row=number,
                student_number=student_number,
                values=values,
                campus_id=uuid.UUID(campus_id),
                grade=grade,
                class_name=class_name,
                guardians=[GuardianIn(*g) for g in guardians],
            )
        )
    campuses = Campus.objects.filter(school__district=district)
    if school is not None:
        campuses = campuses.filter(school=school)
    return _check_against_db(
        rows=rows,
        district=district,
        school=school,
        present=set(data["present"]),
        allowed_campuses=set(campuses.values_list("pk", flat=True)),
    )


def _plan_counts(validation: Validation) -> dict[str, int]:
    new = sum(1 for r in validation.rows if r.student_number not in validation.known)
    return {"rows": len(validation.rows), "students_new": new, "students_known": len(validation.rows) - new}


# -- apply -----------------------------------------------------------------------------------

CHUNK = 5000
_UPDATABLE = ("name", "gender", "birth_date", "boarding", "nutrition_programme", "allergens", "diet_notes")


@dataclass
class ApplyResult:
    counts: dict[str, int]
    dry_run: bool


def roster_confirm(
    *,
    actor: User,
    roster_import: RosterImport,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RosterImport:
    """Apply a previewed import. The checked rows kept at the preview are checked again against
    the database (it may have moved since); any error now stops it before anything is written."""
    if roster_import.status != RosterImportStatus.PREVIEWED:
        raise ValidationFailed("该导入不在待确认状态", "This import is not awaiting confirmation")
    district, school = roster_target(actor=actor, school=roster_import.school, district=roster_import.district)
    validation = _rows_load(bytes(roster_import.content or b""), district=district, school=school)
    if validation.error_count:
        roster_import.status = RosterImportStatus.REJECTED
        roster_import.error_count = validation.error_count
        roster_import.report = validation.report()
        roster_import.save(update_fields=["status", "error_count", "report", "updated_at"])
        return roster_import
    RosterImport.objects.filter(pk=roster_import.pk).update(status=RosterImportStatus.APPLYING, rows_done=0)
    result = roster_apply(
        actor=actor, validation=validation, dry_run=dry_run, progress=_progress_saver(roster_import, progress)
    )
    roster_import.status = RosterImportStatus.DRY_RUN if dry_run else RosterImportStatus.APPLIED
    roster_import.counts = {**roster_import.counts, **result.counts}
    roster_import.rows_done = len(validation.rows)
    roster_import.applied_at = timezone.now()
    if not dry_run:
        roster_import.content = None  # the pupils are in the tables now; keep the file's hash
    roster_import.save()
    return roster_import


def _progress_saver(record: RosterImport, also: Callable[[int, int], None] | None) -> Callable[[int, int], None]:
    def save(done: int, total: int) -> None:
        RosterImport.objects.filter(pk=record.pk).update(rows_done=done, rows_total=total)
        if also:
            also(done, total)

    return save


class _DryRun(Exception):
    pass


def roster_apply(
    *,
    actor: User | None,
    validation: Validation,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ApplyResult:
    """Write a validated roster, CHUNK rows per transaction so the progress is visible to the
    page. A dry run does all the work in one transaction and rolls it back, so its counts are
    exactly what the import would write."""
    if validation.error_count:
        raise ValidationFailed("名册有错误，不能导入", "The roster has errors and cannot be imported")
    counts = dict.fromkeys(
        (
            "students_created",
            "students_updated",
            "students_unchanged",
            "classes_created",
            "guardians_created",
            "guardians_updated",
            "links_created",
            "links_updated",
        ),
        0,
    )
    total = len(validation.rows)
    try:
        with transaction.atomic() if dry_run else _nullcontext():
            for start in range(0, total, CHUNK):
                with transaction.atomic():
                    _apply_chunk(validation, validation.rows[start : start + CHUNK], counts)
                if progress:
                    progress(min(start + CHUNK, total), total)
            if dry_run:
                raise _DryRun  # roll every chunk back: the counts are what an import would write
    except _DryRun:
        pass
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="org.roster_dry_run" if dry_run else "org.roster_import",
            target=validation.school or validation.district,
            after={"rows": total, **counts},
            district_id=validation.district.pk,
            school_id=validation.school.pk if validation.school else None,
        )
    return ApplyResult(counts=counts, dry_run=dry_run)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return False


def _new_ids(n: int) -> list[uuid.UUID]:
    """n random (version 4) UUIDs from one urandom call: uuid4() per row was a tenth of the
    import's time."""
    raw = os.urandom(16 * n)
    return [uuid.UUID(bytes=raw[i : i + 16], version=4) for i in range(0, 16 * n, 16)]


def _bulk_insert(model: type, rows: list[dict[str, Any]]) -> None:
    """INSERT new rows given as {attname: value}; each row gets a new id and timestamps, and
    the model's defaults for the fields not given. On PostgreSQL through COPY (psycopg's copy
    protocol) from plain tuples: for tens of thousands of pupils, building model instances and
    binding multi-row INSERT parameters cost more than the server's work. Elsewhere (SQLite)
    bulk_create."""
    if not rows:
        return
    now = timezone.now()
    for row, pk in zip(rows, _new_ids(len(rows)), strict=True):
        row["id"] = pk
        row["created_at"] = row["updated_at"] = now
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=500)
        return
    fields = model._meta.concrete_fields
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in rows[0]}
    names = [f.attname for f in fields]
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    qn = connection.ops.quote_name
    sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            values = [row[name] if name in row else defaults[name] for name in names]
            for i, name in enumerate(names):
                if name in json_fields:
                    values[i] = json.dumps(values[i], ensure_ascii=False)
            copy.write_row(values)


def _any_rows(model: type, columns: tuple[str, ...], key: str, values: list, order: str = "") -> list[tuple]:
    """SELECT columns WHERE key is one of values. On PostgreSQL as `= ANY(%s)` with one array
    parameter: Django's IN list binds each of thousands of values on its own, which cost more
    than the query."""
    if not values:
        return []
    if connection.vendor != "postgresql":
        qs = model.objects.filter(**{f"{key}__in": values})
        return list((qs.order_by(order) if order else qs).values_list(*columns))
    qn = connection.ops.quote_name
    fields = {f.attname: f.column for f in model._meta.concrete_fields}
    sql = (
        f"SELECT {', '.join(qn(fields[c]) for c in columns)} FROM {qn(model._meta.db_table)} "  # noqa: S608 - our names
        f"WHERE {qn(fields[key])} = ANY(%s)" + (f" ORDER BY {qn(fields[order])}" if order else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [values])
        return cursor.fetchall()


def _apply_chunk(validation: Validation, rows: list[RowIn], counts: dict[str, int]) -> None:
    now = timezone.now()
    year = school_year_start()
    # Classes: (campus, grade, name) → id, creating the missing ones.
    wanted = {(r.campus_id, r.grade, r.class_name) for r in rows}
    campus_ids = {k[0] for k in wanted}
    classes = {
        (c, g, n): pk
        for pk, c, g, n in SchoolClass.objects.filter(campus_id__in=campus_ids).values_list(
            "id", "campus_id", "grade", "name"
        )
    }
    missing = [
        {"campus_id": c, "grade": g, "name": n, "entry_year": year - g + 1}
        for (c, g, n) in sorted(wanted - classes.keys(), key=str)
    ]
    if missing:
        _bulk_insert(SchoolClass, missing)
        counts["classes_created"] += len(missing)
        for k in missing:
            classes[(k["campus_id"], k["grade"], k["name"])] = k["id"]

    # Students: create the new, update only what changed.
    create: list[dict[str, Any]] = []
    created_rows: list[tuple[str, dict[str, Any]]] = []
    update: list[Student] = []
    student_ids: dict[str, Any] = {}
    for r in rows:
        class_id = classes[(r.campus_id, r.grade, r.class_name)]
        existing = validation.known.get(r.student_number)
        if existing is None:
            fresh = {
                "campus_id": r.campus_id,
                "school_class_id": class_id,
                "student_number": r.student_number,
                **{k: r.values[k] for k in _UPDATABLE if k in r.values},
            }
            create.append(fresh)
            created_rows.append((r.student_number, fresh))
            continue
        ex = dict(zip(_KNOWN_FIELDS, existing, strict=True))
        student_ids[r.student_number] = ex["id"]
        changes = {k: r.values[k] for k in _UPDATABLE if k in r.values and r.values[k] != ex[k]}
        if class_id != ex["school_class_id"]:
            changes["school_class_id"] = class_id
        if changes:
            student = Student(id=ex["id"], campus_id=ex["campus_id"], school_class_id=ex["school_class_id"])
            for k in _UPDATABLE:
                setattr(student, k, ex[k])
            for k, val in changes.items():
                setattr(student, k, val)
            student.updated_at = now
            update.append(student)
        else:
            counts["students_unchanged"] += 1
    if create:
        _bulk_insert(Student, create)
        counts["students_created"] += len(create)
        for number, row in created_rows:
            student_ids[number] = row["id"]
    if update:
        Student.objects.bulk_update(update, [*_UPDATABLE, "school_class_id", "updated_at"], batch_size=1000)
        counts["students_updated"] += len(update)

    # Guardians: one per mobile number; the name follows the latest roster.
    mobiles = {g.mobile for r in rows for g in r.guardians}
    guardians: dict[str, tuple[Any, str]] = {}
    if mobiles:
        for pk, phone, name in _any_rows(Guardian, ("id", "phone", "name"), "phone", list(mobiles), "created_at"):
            guardians.setdefault(phone, (pk, name))
    new_guardians: dict[str, dict[str, Any]] = {}
    renamed: dict[Any, Guardian] = {}
    for r in rows:
        for g in r.guardians:
            known = guardians.get(g.mobile)
            if known is None and g.mobile not in new_guardians:
                new_guardians[g.mobile] = {"name": g.name, "phone": g.mobile}
            elif known is not None and known[1] != g.name:
                renamed[known[0]] = Guardian(id=known[0], name=g.name, phone=g.mobile, updated_at=now)
    if new_guardians:
        _bulk_insert(Guardian, list(new_guardians.values()))
        counts["guardians_created"] += len(new_guardians)
        for mobile, guardian in new_guardians.items():
            guardians[mobile] = (guardian["id"], guardian["name"])
    if renamed:
        Guardian.objects.bulk_update(renamed.values(), ["name", "updated_at"], batch_size=1000)
        counts["guardians_updated"] += len(renamed)

    # Links: guardian ↔ pupil with the relation; the first guardian of a row is the primary one.
    links = {
        (g, s): (pk, rel, primary)
        for pk, g, s, rel, primary in _any_rows(
            GuardianLink,
            ("id", "guardian_id", "student_id", "relation", "is_primary"),
            "student_id",
            list(student_ids.values()),
        )
    }
    new_links: dict[tuple, dict[str, Any]] = {}
    changed_links: list[GuardianLink] = []
    for r in rows:
        student_id = student_ids[r.student_number]
        for i, g in enumerate(r.guardians):
            guardian_id = guardians[g.mobile][0]
            key = (guardian_id, student_id)
            existing = links.get(key)
            if existing is None:
                if key not in new_links:
                    new_links[key] = {
                        "guardian_id": guardian_id,
                        "student_id": student_id,
                        "relation": g.relation,
                        "is_primary": i == 0,
                    }
            elif existing[1] != g.relation:
                changed_links.append(GuardianLink(id=existing[0], relation=g.relation, updated_at=now))
    if new_links:
        _bulk_insert(GuardianLink, list(new_links.values()))
        counts["links_created"] += len(new_links)
    if changed_links:
        GuardianLink.objects.bulk_update(changed_links, ["relation", "updated_at"], batch_size=1000)
        counts["links_updated"] += len(changed_links)


# -- template --------------------------------------------------------------------------------


def roster_template_xlsx(*, campuses: Iterable[Campus] = ()) -> bytes:
    """The workbook a school fills: the header, one example row, and a sheet of allowed values."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from canteen.meals.choices import Allergen

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "名册 Roster"
    sheet.append([c.header for c in COLUMNS])
    for i, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=i)
        cell.font = Font(bold=True, color="B00000" if column.required else "000000")
        cell.fill = PatternFill("solid", fgColor="F2F2F2")
        sheet.column_dimensions[cell.column_letter].width = column.width
    # Student numbers and mobiles are text: a number format would drop leading zeros.
    for key in ("student_number", "guardian_mobile", "guardian2_mobile", "birth_date"):
        letter = sheet.cell(row=1, column=COLUMNS.index(COLUMN_BY_KEY[key]) + 1).column_letter
        for row in range(2, 2001):
            sheet[f"{letter}{row}"].number_format = "@"
    sheet.freeze_panes = "A2"
    for key, options in (("gender", '"男,女"'), ("boarding", '"是,否"'), ("nutrition_programme", '"是,否"')):
        letter = sheet.cell(row=1, column=COLUMNS.index(COLUMN_BY_KEY[key]) + 1).column_letter
        validation = DataValidation(type="list", formula1=options, allow_blank=True)
        validation.add(f"{letter}2:{letter}2000")
        sheet.add_data_validation(validation)
    notes = workbook.create_sheet("说明 Notes")
    notes.append(["列 Column", "必填 Required", "填写说明 How to fill"])
    help_text = {
        "student_number": "全国学籍号，4–32 位字母或数字 / national student number",
        "gender": "男 / 女",
        "birth_date": "2016-03-01",
        "grade": "1–12，或 三年级、初一、高二",
        "class_name": "如 三年级2班 / e.g. Class 3-2",
        "campus": "校区代码或名称 / campus code or name: " + "，".join(f"{c.code} {c.name}" for c in campuses),
        "boarding": "是 / 否",
        "nutrition_programme": "是 / 否（农村义务教育学生营养改善计划）",
        "allergens": "用、分隔 / separate with 、: "
        + "、".join(str(label).split(" ")[0] for _, label in Allergen.choices),
        "guardian_relation": "父亲、母亲、祖辈、其他",
        "guardian_mobile": "11 位手机号 / 11-digit mobile",
    }
    for column in COLUMNS:
        notes.append([column.header, "是 Yes" if column.required else "", help_text.get(column.key, "")])
    notes.column_dimensions["A"].width = 28
    notes.column_dimensions["C"].width = 90
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def roster_report_csv(record: RosterImport) -> bytes:
    """The preview's errors and warnings as a CSV the school can open in Excel; every cell that
    came from the file is made formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行 Row", "学籍号 Student number", "类型 Kind", "列 Column", "说明 Message"])
    for message in record.report.get("file_errors", []):
        writer.writerow(["", "", "错误 Error", "", f"{message['zh']} / {message['en']}"])
    for row in record.report.get("rows", []):
        for kind, label in (("errors", "错误 Error"), ("warnings", "提示 Warning")):
            for message in row[kind]:
                column = COLUMN_BY_KEY.get(message.get("column", ""))
                writer.writerow(
                    [
                        row["row"],
                        spreadsheet_safe(row["student_number"]),
                        label,
                        column.header if column else "",
                        spreadsheet_safe(f"{message['zh']} / {message['en']}"),
                    ]
                )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
