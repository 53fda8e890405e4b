"""The wallet when a pupil changes campus (issue 21). Kept out of services.py, which other work
edits; leaving uses services.account_close directly."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from canteen.core.audit import audit_record
from canteen.org.models import Campus, Student

from .models import Account
from .services import wallet_ref


@transaction.atomic
def wallet_follow_campus(*, student: Student, from_campus: Campus, actor: Any) -> int:
    """The wallet follows the pupil: the same account (same balance, same history) now belongs to
    the new campus, so new postings book at the new campus's house accounts. Past postings keep
    the campus they were made at (Posting.campus), so each campus's daily reports stay as closed.
    The balance carried between campuses is recorded in the audit trail. Returns the balance."""
    account = Account.objects.select_for_update().get(pk=wallet_ref(student).id)
    campus = Campus.objects.select_related("school").get(pk=student.campus_id)
    Account.objects.filter(pk=account.pk).update(
        campus_id=campus.pk, school_id=campus.school_id, district_id=campus.school.district_id
    )
    audit_record(
        actor=actor,
        action="ledger.wallet_moved",
        target=account,
        before={"campus_id": str(from_campus.pk), "balance_fen": account.balance_fen},
        after={"campus_id": str(campus.pk), "balance_fen": account.balance_fen},
        district_id=campus.school.district_id,
        school_id=campus.school_id,
    )
    return account.balance_fen
