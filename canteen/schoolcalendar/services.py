"""The school calendar: `is_school_day(where, day)` is the one answer to "is there school (and
so lunch, a subsidy, a menu, a record to expect) at this campus or school on this day?".

A day is a school day when, in this order:
1. a closure (停课) of the school or its district covers it: no;
2. a vacation of the school (or, when the school has none of its own, of the district): no;
3. an extra school day (补课日) of the school or district: yes;
4. it lies outside every term (the school's own terms when it has any, else the district's): no;
   a district that has entered no term at all is taken to be in term every day, so that a new
   district works before its calendar is typed in;
5. otherwise China's national calendar decides: a working day (Monday to Friday that is no
   public holiday, or a make-up working day, 调休上班) is a school day. Exam days are school days.

The national calendar comes from the kept `chinese-calendar` library (the State Council's
yearly holiday notice); a year beyond its data raises CalendarYearUnknown unless the district
covers the day with its own entries (a vacation or closure says no, an extra day says yes)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import chinese_calendar
from django.db import transaction
from django.db.models import Q

from canteen.core.audit import audit_record
from canteen.core.errors import DomainError, Forbidden, ValidationFailed
from canteen.org.choices import Role
from canteen.org.models import Campus, District, School

from .choices import EntryKind
from .models import CalendarEntry


class CalendarYearUnknown(DomainError):
    code = "calendar_year_unknown"
    status = 409
    message_zh = "国家法定节假日数据未覆盖该年份，请升级 chinese-calendar 或录入该日的校历"
    message_en = "The national holiday data does not cover this year: upgrade chinese-calendar or enter the day"


def national_working_day(day: dt.date) -> bool:
    """A working day by the State Council's calendar: weekdays that are no public holiday, and
    the weekend days made working days (调休)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError as exc:
        raise CalendarYearUnknown(details={"day": day.isoformat(), "year": day.year}) from exc


def national_holiday_name(day: dt.date) -> str:
    """The public holiday's name (e.g. "National Day"), or "" on other days; "" beyond the data."""
    try:
        holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return ""
    return str(name or "") if holiday and name else ""


@dataclass(frozen=True)
class _Where:
    district_id: uuid.UUID
    school_id: uuid.UUID


def _where(where: Campus | School | uuid.UUID | Any) -> _Where:
    if isinstance(where, Campus):
        school = where.school
        return _Where(school.district_id, school.pk)
    if isinstance(where, School):
        return _Where(where.district_id, where.pk)
    row = Campus.objects.filter(pk=where).values_list("school__district_id", "school_id").first()
    if row is None:
        row = School.objects.filter(pk=where).values_list("district_id", "pk").first()
    if row is None:
        raise ValidationFailed("未知的校区或学校", "Unknown campus or school", details={"where": str(where)})
    return _Where(row[0], row[1])


class Calendar:
    """One school's calendar over a date range, loaded in one query (bulk grants and forecasts
    ask about many days)."""

    def __init__(
        self,
        *,
        district_id: uuid.UUID,
        school_id: uuid.UUID,
        entries: Iterable[CalendarEntry],
        has: set[tuple[str, bool]],
    ) -> None:
        self.district_id = district_id
        self.school_id = school_id
        self.entries = [e for e in entries if e.school_id in (None, school_id)]
        # (kind, school's own?) pairs this school's calendar has at all, whatever their dates.
        self.has = has

    def _covering(self, day: dt.date, kind: str, *, school: bool | None = None) -> list[CalendarEntry]:
        return [
            e
            for e in self.entries
            if e.kind == kind and e.start <= day <= e.end and (school is None or (e.school_id is not None) == school)
        ]

    def _has(self, kind: str, *, school: bool) -> bool:
        return (kind, school) in self.has

    def why(self, day: dt.date) -> tuple[bool, str]:
        """(school day?, the reason in a few words)."""
        closure = self._covering(day, EntryKind.CLOSURE)
        if closure:
            return False, closure[0].name
        own_vacations = self._has(EntryKind.VACATION, school=True)
        vacation = self._covering(day, EntryKind.VACATION, school=True if own_vacations else None)
        if vacation:
            return False, vacation[0].name
        extra = self._covering(day, EntryKind.SCHOOL_DAY)
        if extra:
            return True, extra[0].name
        own_terms = self._has(EntryKind.TERM, school=True)
        terms_at_all = own_terms or self._has(EntryKind.TERM, school=False)
        if terms_at_all and not self._covering(day, EntryKind.TERM, school=own_terms):
            return False, "学期外 Outside term"
        if national_working_day(day):
            return True, "上课日 School day"
        holiday = national_holiday_name(day)
        return False, holiday or "周末 Weekend"


def calendar_for(where: Campus | School | uuid.UUID, start: dt.date, end: dt.date) -> Calendar:
    """The calendar of a campus or school, with the entries that touch [start, end]."""
    w = _where(where)
    mine = CalendarEntry.objects.filter(district_id=w.district_id).filter(
        Q(school__isnull=True) | Q(school_id=w.school_id)
    )
    entries = list(mine.filter(start__lte=end, end__gte=start).only("kind", "name", "start", "end", "school_id"))
    has = {(kind, school_id is not None) for kind, school_id in mine.values_list("kind", "school_id").distinct()}
    return Calendar(district_id=w.district_id, school_id=w.school_id, entries=entries, has=has)


def is_school_day(where: Campus | School | uuid.UUID, day: dt.date) -> bool:
    """Is there school at this campus (or school) on this day? See the module docstring."""
    return calendar_for(where, day, day).why(day)[0]


def school_days(where: Campus | School | uuid.UUID, start: dt.date, end: dt.date) -> list[dt.date]:
    """The school days in [start, end], for forecasts, menus and dashboards."""
    cal = calendar_for(where, start, end)
    days = []
    day = start
    while day <= end:
        if cal.why(day)[0]:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def term_of(where: Campus | School | uuid.UUID, day: dt.date) -> CalendarEntry | None:
    """The term (the school's own, else the district's) that covers `day`."""
    w = _where(where)
    terms = CalendarEntry.objects.filter(district_id=w.district_id, kind=EntryKind.TERM, start__lte=day, end__gte=day)
    return terms.filter(school_id=w.school_id).first() or terms.filter(school__isnull=True).first()


# ---------------------------------------------------------------------------------------------
# Editing: the district edits its calendar; a school admin adds its own entries.


def _check_may_edit(actor: Any, district: District, school: School | None) -> None:
    if getattr(actor, "is_superuser", False):
        return
    role = getattr(actor, "role", None)
    if role == Role.DISTRICT_REGULATOR and actor.district_id == district.pk:
        return
    if role == Role.SCHOOL_ADMIN and school is not None and actor.school_id == school.pk:
        return
    raise Forbidden("无权修改该校历", "You may not edit this calendar")


MAX_ENTRY_DAYS = 400


def _clean(kind: str, name: str, start: dt.date, end: dt.date) -> None:
    if kind not in EntryKind.values:
        raise ValidationFailed("校历类型无效", "Unknown calendar entry kind", details={"kind": kind})
    if not (name or "").strip():
        raise ValidationFailed("请填写名称", "A name is required")
    if end < start:
        raise ValidationFailed("结束日期早于开始日期", "The end is before the start")
    if (end - start).days > MAX_ENTRY_DAYS:
        raise ValidationFailed("时间跨度过长", "An entry spans at most 400 days")


def calendar_entry_create(
    *,
    actor: Any,
    district: District,
    kind: str,
    name: str,
    start: dt.date,
    end: dt.date,
    school: School | None = None,
    note: str = "",
) -> CalendarEntry:
    _check_may_edit(actor, district, school)
    if school is not None and school.district_id != district.pk:
        raise ValidationFailed("学校不属于该区", "The school is not in this district")
    _clean(kind, name, start, end)
    with transaction.atomic():
        entry = CalendarEntry.objects.create(
            district=district,
            school=school,
            kind=kind,
            name=name.strip()[:80],
            start=start,
            end=end,
            note=note[:200],
            actor=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="schoolcalendar.entry_created",
            target=entry,
            after={"kind": kind, "name": entry.name, "start": start.isoformat(), "end": end.isoformat()},
            district_id=district.pk,
            school_id=school.pk if school else None,
        )
    return entry


def calendar_entry_update(
    *, actor: Any, entry: CalendarEntry, name: str, start: dt.date, end: dt.date, note: str = ""
) -> CalendarEntry:
    _check_may_edit(actor, entry.district, entry.school)
    _clean(entry.kind, name, start, end)
    with transaction.atomic():
        before = {"name": entry.name, "start": entry.start.isoformat(), "end": entry.end.isoformat()}
        entry.name, entry.start, entry.end, entry.note = name.strip()[:80], start, end, note[:200]
        entry.save(update_fields=["name", "start", "end", "note", "updated_at"])
        audit_record(
            actor=actor,
            action="schoolcalendar.entry_updated",
            target=entry,
            before=before,
            after={"name": entry.name, "start": start.isoformat(), "end": end.isoformat()},
            district_id=entry.district_id,
            school_id=entry.school_id,
        )
    return entry


def calendar_entry_delete(*, actor: Any, entry: CalendarEntry) -> None:
    _check_may_edit(actor, entry.district, entry.school)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="schoolcalendar.entry_deleted",
            target=entry,
            before={
                "kind": entry.kind,
                "name": entry.name,
                "start": entry.start.isoformat(),
                "end": entry.end.isoformat(),
            },
            district_id=entry.district_id,
            school_id=entry.school_id,
        )
        entry.delete()
