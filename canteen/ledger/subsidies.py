"""Subsidies as restricted money (issue 22).

A programme (营养改善计划, boarding or hardship allowances, free meals) has a funding source and
an amount per school day. On each school day (schoolcalendar.is_school_day) an eligible pupil's
allowance account ("allowance:<student>", credit-normal, floor 0) is credited from the
programme's fund at the campus (the SUBSIDY account owned by the programme):

    grant           fund  -x   allowance +x            (PostingKind.SUBSIDY)
    meal            allowance -s, wallet -(m-s), revenue +m   (services.meal_charge: subsidy first)
    return          allowance -r, fund +r               (PostingKind.SUBSIDY_RETURN)

Nothing else ever debits an allowance: transfers, refunds and closures move wallet (family)
money only, so a subsidy never becomes cash. What is unspent goes back to its fund at term end
(`subsidy_return_unspent`) or when the pupil leaves (`subsidy_return_for_student`, called by
services.account_close). A pooled allowance is attributed back to programmes newest grant first:
meals spend the oldest money first, so what is left is what came last.

Pupils flagged `Student.nutrition_programme` are eligible for their district's national
nutrition programme; a district that has not set one up gets the national rate
(services.nutrition_daily_fen) from the campus's unowned subsidy fund, as before."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, Sum

from canteen.core.audit import audit_record
from canteen.core.money import Money
from canteen.org.choices import StudentStatus
from canteen.org.models import Campus, Student
from canteen.schoolcalendar.services import calendar_for

from . import services
from .choices import AccountKind, AccountStatus, Channel, PostingKind, ProgrammeKind
from .errors import InvalidAmount
from .models import Account, Entry, Posting, SubsidyEligibility, SubsidyProgramme, SubsidyRun


class NotSchoolDay(InvalidAmount):
    code = "not_school_day"
    message_zh = "非上学日不发放补助"
    message_en = "No allowance on a day without school"


def _fund_ref(campus_id: uuid.UUID, programme: SubsidyProgramme | None) -> services.AccountRef:
    if programme is None:
        return services.house_ref(AccountKind.SUBSIDY, campus_id)
    return services.house_ref(AccountKind.SUBSIDY, campus_id, owner_id=programme.pk, name=programme.name[:100])


def subsidy_grant(
    *,
    student: Student,
    amount: Money,
    day: date,
    actor: Any = None,
    idempotency_key: str | None = None,
    programme: SubsidyProgramme | None = None,
    check_calendar: bool = True,
) -> Posting:
    """Credit one day's allowance of a programme to the pupil's restricted balance. Refused
    (NotSchoolDay) on a day without school at the pupil's campus."""
    fen = services._positive(amount)
    if check_calendar and not calendar_for(student.campus_id, day, day).why(day)[0]:
        raise NotSchoolDay(details={"day": day.isoformat(), "campus_id": str(student.campus_id)})
    if programme is None:
        key = idempotency_key or f"subsidy:{student.pk}:{day.isoformat()}"
        memo = f"营养改善计划 {day.isoformat()}"
    else:
        key = idempotency_key or f"subsidy:{programme.pk}:{student.pk}:{day.isoformat()}"
        memo = f"{programme.name} {day.isoformat()}"[:200]
    scope = services.campus_scope(student.campus_id)
    programme_id = programme.pk if programme else None

    def work() -> Posting:
        return services._post(
            kind=PostingKind.SUBSIDY,
            key=key,
            legs=[
                services.Leg(_fund_ref(scope.campus_id, programme), -fen),
                services.Leg(services.allowance_ref(student), fen, guard=True),
            ],
            amount_fen=fen,
            actor=actor,
            memo=memo,
            on=day,
            scope=scope,
            student=student,
            channel=Channel.INTERNAL,
            counterparty_id=programme_id,
            event="ledger.subsidy_granted",
            event_extra={"programme_id": str(programme_id) if programme_id else None},
        )

    return services._run(
        kind=PostingKind.SUBSIDY,
        key=key,
        work=work,
        same_request=lambda p: p.student_id == student.pk and p.amount_fen == fen,
    )


def _eligible(district: Any, day: date) -> list[tuple[Student, SubsidyProgramme | None, int]]:
    """(pupil, programme, fen) for every grant due on `day` in the district, by campus."""
    district_id = getattr(district, "pk", district)
    enrolled = Student.objects.filter(campus__school__district_id=district_id, status=StudentStatus.ENROLLED)
    programmes = list(
        SubsidyProgramme.objects.filter(district_id=district_id, active=True, start__lte=day).filter(
            Q(end__isnull=True) | Q(end__gte=day)
        )
    )
    due: list[tuple[Student, SubsidyProgramme | None, int]] = []
    nutrition = next((p for p in programmes if p.kind == ProgrammeKind.NUTRITION), None)
    flagged = enrolled.filter(nutrition_programme=True).order_by("campus_id", "pk")
    for student in flagged:
        due.append((student, nutrition, nutrition.per_day_fen if nutrition else services.nutrition_daily_fen()))
    by_programme = {p.pk: p for p in programmes}
    rows = (
        SubsidyEligibility.objects.filter(programme_id__in=list(by_programme), start__lte=day)
        .filter(Q(end__isnull=True) | Q(end__gte=day))
        .filter(student__in=enrolled)
        .select_related("student")
        .order_by("campus_id", "student_id")
    )
    flagged_ids = {s.pk for s, _, _ in due}
    for row in rows:
        programme = by_programme[row.programme_id]
        if programme is nutrition and row.student_id in flagged_ids:
            continue  # flagged and listed: one grant
        due.append((row.student, programme, programme.per_day_fen))
    return due


def subsidy_grant_bulk(
    *,
    district: Any,
    day: date,
    actor: Any,
    per_student: Money | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> SubsidyRun:
    """Grant the day's allowances to every eligible enrolled pupil of the district whose campus
    has school that day. Each grant is its own idempotent posting, so a rerun grants only what is
    missing. NotSchoolDay when no campus of the district has school."""
    due = _eligible(district, day)
    campus_ids = set(
        Campus.objects.filter(school__district_id=getattr(district, "pk", district)).values_list("pk", flat=True)
    )
    open_campuses = {cid for cid in campus_ids if calendar_for(cid, day, day).why(day)[0]}
    if not open_campuses:
        raise NotSchoolDay(details={"day": day.isoformat()})
    due = [d for d in due if d[0].campus_id in open_campuses]
    already = set(
        Posting.objects.filter(
            kind=PostingKind.SUBSIDY, on=day, district_id=getattr(district, "pk", district)
        ).values_list("student_id", "counterparty_id")
    )
    iterable: Iterable[Any] = due
    if progress is not None:
        iterable = progress(iterable, len(due))
    granted = count = 0
    for student, programme, fen in iterable:
        count += 1
        if per_student is not None and (programme is None or programme.kind == ProgrammeKind.NUTRITION):
            fen = per_student.fen
        if (student.pk, programme.pk if programme else None) in already:
            continue
        subsidy_grant(
            student=student, amount=Money(fen), day=day, actor=actor, programme=programme, check_calendar=False
        )
        granted += fen
    run = SubsidyRun.objects.create(
        day=day,
        district_id=getattr(district, "pk", district),
        per_student_fen=(per_student or Money(services.nutrition_daily_fen())).fen,
        students=count,
        granted_fen=granted,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="ledger.subsidy_run",
        target=run,
        after={"day": day.isoformat(), "students": count, "granted_fen": granted},
        district_id=run.district_id,
    )
    return run


# ---------------------------------------------------------------------------------------------
# Returning unspent subsidy to its fund


def _attribution(student_id: uuid.UUID, amount: int) -> list[tuple[uuid.UUID | None, int]]:
    """Split `amount` of a pupil's allowance over the programmes of the newest grants."""
    parts: dict[uuid.UUID | None, int] = {}
    left = amount
    grants = Posting.objects.filter(kind=PostingKind.SUBSIDY, student_id=student_id).order_by("-on", "-created_at")
    for programme_id, fen in grants.values_list("counterparty_id", "amount_fen").iterator():
        if left <= 0:
            break
        take = min(fen, left)
        parts[programme_id] = parts.get(programme_id, 0) + take
        left -= take
    if left > 0:  # more than the grants on record (e.g. an imported balance): the unowned fund
        parts[None] = parts.get(None, 0) + left
    return list(parts.items())


def _locked_allowance(student: Student) -> Account | None:
    qs = Account.objects.filter(code=services.allowance_code(student.pk))
    if connection.vendor == "postgresql":
        qs = qs.select_for_update()
    return qs.first()


def subsidy_return_for_student(
    *, student: Student, actor: Any, idempotency_key: str, reason: str, close: bool = False, on: date | None = None
) -> Posting | None:
    """Move a pupil's unspent subsidy back to its programmes' funds (never to the family);
    with `close`, close the allowance too (the pupil leaves). Runs in the caller's transaction
    when there is one (account_close), locking the allowance before the wallet, as meal charges
    do. None when nothing was left."""
    with transaction.atomic():
        account = _locked_allowance(student)
        if account is None:
            return None
        posting = None
        balance = account.balance_fen
        if balance > 0:
            scope = services.campus_scope(student.campus_id)
            allowance = services.AccountRef(account.pk, account.kind, account.code, True)
            programmes = {
                p.pk: p
                for p in SubsidyProgramme.objects.filter(
                    pk__in=[pid for pid, _ in _attribution(student.pk, balance) if pid]
                )
            }
            existing = Posting.objects.filter(kind=PostingKind.SUBSIDY_RETURN, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
            legs = [services.Leg(allowance, -balance, guard=True)]
            for programme_id, fen in _attribution(student.pk, balance):
                legs.append(services.Leg(_fund_ref(scope.campus_id, programmes.get(programme_id)), fen))
            posting = services._post(
                kind=PostingKind.SUBSIDY_RETURN,
                key=idempotency_key,
                legs=legs,
                amount_fen=balance,
                actor=actor,
                memo=reason[:200] or "补助结余退回",
                on=on,
                scope=scope,
                student=student,
                channel=Channel.INTERNAL,
                event="ledger.subsidy_returned",
            )
            services._audit(actor, "ledger.subsidy_return", posting, student_id=str(student.pk), reason=reason)
        if close and account.status != AccountStatus.CLOSED:
            Account.objects.filter(pk=account.pk).update(status=AccountStatus.CLOSED)
        return posting


def subsidy_return_unspent(*, campus: Campus | uuid.UUID, term_end: date, actor: Any) -> list[Posting]:
    """Term end: every pupil's unspent subsidy at the campus goes back to its funds, dated the
    term's last day (or today if that day's books are closed: the open period)."""
    campus_id = getattr(campus, "pk", campus)
    students = Student.objects.filter(
        pk__in=Account.objects.filter(kind=AccountKind.ALLOWANCE, campus_id=campus_id, balance_fen__gt=0).values(
            "student_id"
        )
    )
    postings = []
    for student in students.order_by("pk"):
        key = f"subsidy-return:{student.pk}:{term_end.isoformat()}"
        posting = subsidy_return_for_student(
            student=student,
            actor=actor,
            idempotency_key=key,
            reason=f"学期结束补助结余退回 {term_end.isoformat()}",
            on=_open_day(campus_id, term_end),
        )
        if posting is not None:
            postings.append(posting)
    return postings


def _open_day(campus_id: uuid.UUID, day: date) -> date | None:
    from .models import Book

    closed = Book.objects.filter(campus_id=campus_id).values_list("closed_through", flat=True).first()
    return day if closed is None or day > closed else None


def allowance_balance(*, student: Student) -> Money:
    fen = Account.objects.filter(code=services.allowance_code(student.pk)).values_list("balance_fen", flat=True).first()
    return Money(fen or 0)


# ---------------------------------------------------------------------------------------------
# Programmes and eligibility


def programme_create(
    *,
    actor: Any,
    district: Any,
    code: str,
    name: str,
    kind: str,
    funding_source: str,
    per_day: Money,
    start: date,
    end: date | None = None,
) -> SubsidyProgramme:
    fen = services._positive(per_day)
    with transaction.atomic():
        programme = SubsidyProgramme.objects.create(
            district_id=getattr(district, "pk", district),
            code=code,
            name=name,
            kind=kind,
            funding_source=funding_source,
            per_day_fen=fen,
            start=start,
            end=end,
        )
        audit_record(
            actor=actor,
            action="ledger.programme_created",
            target=programme,
            after={"code": code, "kind": kind, "funding_source": funding_source, "per_day_fen": fen},
            district_id=programme.district_id,
        )
    return programme


def eligibility_add(
    *, actor: Any, programme: SubsidyProgramme, student: Student, start: date, end: date | None = None
) -> SubsidyEligibility:
    if end is not None and end < start:
        raise InvalidAmount("结束日期早于开始日期", "The end is before the start", code="invalid_dates")
    scope = services.campus_scope(student.campus_id)
    if scope.district_id != programme.district_id:
        raise InvalidAmount("学生不在该项目的区", "The pupil is not in the programme's district", code="wrong_district")
    with transaction.atomic():
        row = SubsidyEligibility.objects.create(
            programme=programme,
            student=student,
            start=start,
            end=end,
            campus_id=scope.campus_id,
            school_id=scope.school_id,
            district_id=scope.district_id,
            actor=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="ledger.eligibility_added",
            target=row,
            after={"programme": str(programme.pk), "student": str(student.pk), "start": start.isoformat()},
            district_id=scope.district_id,
            school_id=scope.school_id,
        )
    return row


# ---------------------------------------------------------------------------------------------
# Reports: per programme and funding source, per campus and month


@dataclass
class ProgrammeFigures:
    campus_id: uuid.UUID
    programme: SubsidyProgramme | None
    granted_fen: int = 0
    returned_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.granted_fen - self.returned_fen


@dataclass
class SubsidyReport:
    start: date
    end: date
    rows: list[ProgrammeFigures] = field(default_factory=list)
    spent_on_meals_fen: dict[uuid.UUID, int] = field(default_factory=dict)  # per campus
    unspent_fen: dict[uuid.UUID, int] = field(default_factory=dict)  # per campus, at the end


def subsidy_report(*, actor: Any, start: date, end: date) -> SubsidyReport:
    """Granted and returned per campus and programme (with its funding source), and per campus
    what pupils' allowances paid for meals and what was left at the end."""
    campus_ids = list(Campus.objects.visible_to(actor).values_list("pk", flat=True))
    report = SubsidyReport(start=start, end=end)
    fund_entries = (
        Entry.objects.filter(
            account__kind=AccountKind.SUBSIDY, account__campus_id__in=campus_ids, on__gte=start, on__lte=end
        )
        .values_list("account__campus_id", "account__owner_id", "posting__kind")
        .annotate(total=Sum("amount_fen"))
    )
    programmes = {p.pk: p for p in SubsidyProgramme.objects.all()}
    rows: dict[tuple[uuid.UUID, uuid.UUID | None], ProgrammeFigures] = {}
    for campus_id, owner_id, kind, total in fund_entries:
        row = rows.setdefault(
            (campus_id, owner_id), ProgrammeFigures(campus_id=campus_id, programme=programmes.get(owner_id))
        )
        if kind == PostingKind.SUBSIDY_RETURN:
            row.returned_fen += total
        else:
            row.granted_fen += -total
    report.rows = sorted(rows.values(), key=lambda r: (str(r.campus_id), r.programme.code if r.programme else ""))
    allowance = Entry.objects.filter(account__kind=AccountKind.ALLOWANCE, account__campus_id__in=campus_ids)
    report.spent_on_meals_fen = {
        cid: -total
        for cid, total in allowance.filter(
            on__gte=start, on__lte=end, posting__kind__in=[PostingKind.MEAL_CHARGE, PostingKind.MEAL_REVERSE]
        )
        .values_list("account__campus_id")
        .annotate(total=Sum("amount_fen"))
    }
    report.unspent_fen = dict(
        allowance.filter(on__lte=end).values_list("account__campus_id").annotate(total=Sum("amount_fen"))
    )
    return report
