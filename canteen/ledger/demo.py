"""Ledger demo data: every enrolled demo student gets a wallet with an opening top-up (bank
transfer at the school office a month ago), each campus its non-food costs so far this month, and the
demo guardian's two children an online top-up through the demo provider (so the statement,
the settlement file and the reconciliation page have something to show).

Bulk-inserted for speed (a 51-campus district in a few seconds) but through the same rules as
the services: balanced postings, cached wallet balances equal to their entries, one event per
posting published in the transaction."""

from __future__ import annotations

import sys
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import Sum

from canteen.core.events import publish
from canteen.core.money import Money
from canteen.org.choices import StudentStatus
from canteen.org.models import Student, User

from . import services
from .choices import AccountKind, Channel, PostingKind
from .models import Account, Entry, Posting
from .providers import DemoProvider


def seed(ctx) -> None:
    opening_day = ctx.today - timedelta(days=30)
    campus_ids = [c.pk for c in ctx.campuses]
    students = list(
        Student.objects.filter(campus_id__in=campus_ids, status=StudentStatus.ENROLLED)
        .order_by("campus__code", "student_number")
        .values_list("pk", "campus_id", "name")
    )
    with transaction.atomic():
        scopes = {cid: services.campus_scope(cid) for cid in campus_ids}
        banks = {cid: services.house_ref(AccountKind.BANK, cid) for cid in campus_ids}
        accounts, postings, entries, events = [], [], [], []
        for student_id, campus_id, name in ctx.progress(students, "财务 wallets"):
            scope = scopes[campus_id]
            fen = ctx.rng.choice([5_000, 10_000, 15_000, 20_000, 30_000])
            wallet = Account(
                code=f"wallet:{student_id}",
                kind=AccountKind.WALLET,
                name=f"{name} 餐费账户",
                student_id=student_id,
                campus_id=campus_id,
                school_id=scope.school_id,
                district_id=scope.district_id,
                floor_fen=services.wallet_floor_fen(),
                balance_fen=fen,
            )
            accounts.append(wallet)
            posting = Posting(
                id=uuid.uuid4(),
                kind=PostingKind.TOP_UP,
                idempotency_key=f"demo-opening:{student_id}",
                on=opening_day,
                amount_fen=fen,
                memo="期初充值（学校财务室）",
                actor_label="demo",
                student_id=student_id,
                campus_id=campus_id,
                school_id=scope.school_id,
                district_id=scope.district_id,
                channel=Channel.BANK,
            )
            postings.append(posting)
            entries += [
                Entry(posting=posting, account_id=banks[campus_id].id, amount_fen=-fen, on=opening_day),
                Entry(posting=posting, account=wallet, amount_fen=fen, on=opening_day),
            ]
            events.append(posting)
        Account.objects.bulk_create(accounts, batch_size=2000)
        Posting.objects.bulk_create(postings, batch_size=2000)
        Entry.objects.bulk_create(entries, batch_size=4000)
        for posting in events:
            publish(
                "ledger.topped_up",
                {
                    "posting_id": str(posting.pk),
                    "campus_id": str(posting.campus_id),
                    "school_id": str(posting.school_id),
                    "district_id": str(posting.district_id),
                    "amount_fen": posting.amount_fen,
                    "on": posting.on.isoformat(),
                    "student_id": str(posting.student_id),
                    "channel": posting.channel,
                },
            )
        # Non-food running costs per campus (fuel, water, power) so far this month, for the disclosure.
        for campus_id in campus_ids:
            services.other_cost_record(
                campus=campus_id,
                amount=Money(ctx.rng.randint(3_000, 9_000)),
                memo="燃气水电",
                idempotency_key=f"demo-other:{campus_id}:{ctx.today:%Y-%m}",
                actor=None,
            )
    _seed_programmes(ctx)
    _seed_demo_guardian(ctx)
    wallets = Account.objects.filter(kind=AccountKind.WALLET, campus_id__in=campus_ids)
    total = wallets.aggregate(t=Sum("balance_fen"))["t"] or 0
    sys.stdout.write(f"  {wallets.count()} 个钱包 wallets, 期初余额 opening balances {Money(total)}\n")


def _seed_demo_guardian(ctx) -> None:
    user = User.objects.filter(username="guardian01").first()
    if user is None:
        return
    children = list(Student.objects.visible_to(user).order_by("student_number"))
    provider = DemoProvider()
    for n, child in enumerate(children):
        order = services.topup_order_create(student=child, amount=Money(20_000 - n * 5_000), actor=user)
        body, signature = provider.pay(order)
        services.provider_notification_handle(provider="demo", body=body, signature=signature)
        services.wallet_settings_update(
            student=child, actor=user, daily_limit=Money(3_000), low_balance_alert=Money(5_000)
        )


def _seed_programmes(ctx) -> None:
    """Each demo district's subsidy programmes (issue 22): the national nutrition programme
    (centrally funded, ¥5 per school day, for pupils flagged in it) and a county hardship
    allowance (¥3) for a few pupils. Grants follow the school calendar (ledger.subsidies)."""
    from datetime import date

    from .choices import FundingSource, ProgrammeKind
    from .subsidies import eligibility_add, programme_create

    start = date(ctx.today.year - 1, 9, 1)
    for district in ctx.districts:
        programme_create(
            actor=None,
            district=district,
            code="NIP",
            name="农村义务教育学生营养改善计划",
            kind=ProgrammeKind.NUTRITION,
            funding_source=FundingSource.CENTRAL,
            per_day=Money(services.nutrition_daily_fen()),
            start=start,
        )
        hardship = programme_create(
            actor=None,
            district=district,
            code="HARDSHIP",
            name="家庭经济困难学生餐费补助",
            kind=ProgrammeKind.HARDSHIP,
            funding_source=FundingSource.COUNTY,
            per_day=Money(300),
            start=start,
        )
        pupils = Student.objects.filter(campus__school__district=district, status=StudentStatus.ENROLLED)
        for student in pupils.order_by("student_number")[:: max(1, pupils.count() // 20)][:20]:
            eligibility_add(actor=None, programme=hardship, student=student, start=start)
