"""Family money back to the channel it came from (WeChat Pay), when a pupil leaves or a meal
paid for is voided. Only family money: never more than an order paid minus what was already
refunded from it, and never more than the wallet's family share (subsidy money never becomes
cash). Idempotent per key. The wallet is debited to refunds due when the refund is requested;
the provider's refund notification (or its answer, or a query) closes it: succeeded moves the
money out of provider clearing (a REFUND_PAID posting), failed reverses the debit.

`refunds_for_leaving` is the service a pupil-leaving flow calls before closing the wallet."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.events import publish
from canteen.core.money import Money
from canteen.org.models import Student

from .. import services
from ..choices import AccountKind, Channel, PostingKind, RefundStatus, TopUpOrderStatus
from ..models import Account, Entry, Posting, TopUpOrder
from .channels import REAL, impl
from .errors import NotificationRefused, ProviderUnavailable, RefundRefused, UnknownOrder
from .models import TopUpRefund

log = logging.getLogger("canteen.ledger.payments")
REFUND_SUCCEEDED = "ledger.refund_succeeded"
_OPEN = (RefundStatus.REQUESTED, RefundStatus.PROCESSING)


def family_refundable_fen(*, student: Student) -> int:
    """The wallet's family share. Subsidy is granted to the pupil's allowance account (ledger.
    subsidies), never to the wallet, so this is the wallet's balance; a wallet that still holds
    subsidy granted into it before the allowance existed keeps that part back (meals taken as
    spending the subsidy first), so a family never gets subsidy money back as cash."""
    wallet = Account.objects.filter(code=f"wallet:{student.pk}").first()
    if wallet is None:
        return 0
    by_kind = dict(
        Entry.objects.filter(account=wallet)
        .values_list("posting__kind")
        .annotate(total=Sum("amount_fen"))
        .values_list("posting__kind", "total")
    )
    subsidy_in = by_kind.get(PostingKind.SUBSIDY, 0)
    meals_out = -(by_kind.get(PostingKind.MEAL_CHARGE, 0) + by_kind.get(PostingKind.MEAL_REVERSE, 0))
    subsidy_left = max(0, subsidy_in - meals_out)
    return max(0, wallet.balance_fen - subsidy_left)


def _refundable_of(order: TopUpOrder) -> int:
    return order.amount_fen - order.refunded_fen


def topup_refund_request(
    *, order: TopUpOrder, amount: Money, actor: Any, reason: str, idempotency_key: str, after_commit: bool = False
) -> TopUpRefund:
    """Refund part or all of a paid online top-up to the payer's original account."""
    fen = amount.fen
    existing = TopUpRefund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.order_id != order.pk or existing.amount_fen != fen:
            raise RefundRefused(
                "幂等键已用于不同的退款", "This key was used for another refund", code="idempotency_key_reused"
            )
        return _submit(existing)
    if fen <= 0:
        raise RefundRefused("退款金额必须为正", "The refund must be positive", code="invalid_amount")
    with transaction.atomic():
        locked = TopUpOrder.objects.select_for_update().select_related("student").get(pk=order.pk)
        if locked.status != TopUpOrderStatus.PAID or locked.provider not in REAL:
            raise RefundRefused("该订单未支付或不支持原路退款", "Only paid online orders refund to their channel")
        if fen > _refundable_of(locked):
            raise RefundRefused(
                "退款金额超过该笔充值可退金额",
                "More than this top-up has left to refund",
                code="refund_too_large",
                details={"refundable_fen": _refundable_of(locked)},
            )
        family = family_refundable_fen(student=locked.student)
        if fen > family:
            raise RefundRefused(
                "只能退还家长充值的余额（补助不退现）",
                "Only the family's own money is refunded (subsidy never becomes cash)",
                code="subsidy_not_refundable",
                details={"family_fen": family},
            )
        refund = TopUpRefund.objects.create(
            order=locked,
            out_refund_no=f"RF{timezone.now():%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}",
            idempotency_key=idempotency_key,
            amount_fen=fen,
            reason=reason[:200],
            student=locked.student,
            campus_id=locked.campus_id,
            school_id=locked.school_id,
            district_id=locked.district_id,
            requested_by=actor if getattr(actor, "pk", None) else None,
        )
        posting = services.wallet_refund(
            student=locked.student,
            amount=Money(fen),
            actor=actor,
            reason=f"原路退款 {refund.out_refund_no}",
            idempotency_key=f"refund:{refund.out_refund_no}",
        )
        TopUpRefund.objects.filter(pk=refund.pk).update(posting=posting)
        TopUpOrder.objects.filter(pk=locked.pk).update(refunded_fen=locked.refunded_fen + fen)
        audit_record(
            actor=actor,
            action="ledger.topup_refund_requested",
            target=refund,
            after={"order": locked.out_trade_no, "amount_fen": fen, "reason": reason[:200]},
            district_id=locked.district_id,
            school_id=locked.school_id,
        )
    refund.refresh_from_db()
    if after_commit:
        # Inside a caller's transaction (a pupil leaving): the provider hears of the refund only
        # once it is committed, or a rollback would leave money sent with no record of it. The
        # sweep resends whatever the commit hook did not reach.
        transaction.on_commit(lambda: _submit(TopUpRefund.objects.get(pk=refund.pk)))
        return refund
    return _submit(refund)


def _submit(refund: TopUpRefund) -> TopUpRefund:
    """Send (or resend: WeChat refunds are idempotent by out_refund_no) an open refund."""
    if refund.status not in _OPEN:
        return refund
    order = TopUpOrder.objects.select_related("merchant").get(pk=refund.order_id)
    try:
        answer = impl(order.provider).refund(refund=refund, merchant=order.merchant)
    except ProviderUnavailable:
        # Kept as requested, the money held in refunds due; the sweep resends it.
        log.warning("refund %s not sent: provider unavailable", refund.out_refund_no)
        refund.refresh_from_db()
        return refund
    refund_settle(
        provider=order.provider,
        out_refund_no=refund.out_refund_no,
        status=str(answer.get("status", "")),
        refund_id=str(answer.get("refund_id", "")),
        amount_fen=(answer.get("amount") or {}).get("refund"),
        source="answer",
    )
    refund.refresh_from_db()
    return refund


def refund_settle(
    *, provider: str, out_refund_no: str, status: str, refund_id: str, amount_fen: int | None, source: str
) -> str:
    """Bring the provider's word about a refund in (its notification, its answer, a query),
    in whatever order they arrive; a closed refund is never reopened."""
    with transaction.atomic():
        refund = (
            TopUpRefund.objects.select_for_update()
            .select_related("order", "student")
            .filter(out_refund_no=out_refund_no, order__provider=provider)
            .first()
        )
        if refund is None:
            raise UnknownOrder("找不到该退款单", "No such refund", code="unknown_refund")
        if amount_fen is not None and amount_fen != refund.amount_fen:
            raise NotificationRefused("退款金额不符", "The refund amount differs", code="amount_differs")
        if refund.status not in _OPEN:
            return "duplicate"
        if status == "PROCESSING":
            TopUpRefund.objects.filter(pk=refund.pk).update(
                status=RefundStatus.PROCESSING, provider_refund_id=refund_id or refund.provider_refund_id
            )
            return "processing"
        if status == "SUCCESS":
            settled = _post_refund_paid(refund)
            now = timezone.now()
            TopUpRefund.objects.filter(pk=refund.pk).update(
                status=RefundStatus.SUCCEEDED,
                provider_refund_id=refund_id or refund.provider_refund_id,
                settled_posting=settled,
                succeeded_at=now,
                updated_at=now,
            )
            publish(
                REFUND_SUCCEEDED,
                {
                    "refund_id": str(refund.pk),
                    "order_id": str(refund.order_id),
                    "student_id": str(refund.student_id),
                    "campus_id": str(refund.campus_id),
                    "amount_fen": refund.amount_fen,
                    "channel": provider,
                },
            )
            return "succeeded"
        if status in ("CLOSED", "ABNORMAL"):
            services.posting_reverse(
                posting=refund.posting,
                actor=None,
                reason=f"原路退款失败 {refund.out_refund_no} {status}",
                idempotency_key=f"refund_failed:{refund.out_refund_no}",
            )
            TopUpRefund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED, updated_at=timezone.now())
            order = TopUpOrder.objects.select_for_update().get(pk=refund.order_id)
            TopUpOrder.objects.filter(pk=order.pk).update(refunded_fen=order.refunded_fen - refund.amount_fen)
            audit_record(
                actor=None,
                action="ledger.topup_refund_failed",
                target=refund,
                after={"status": status, "source": source},
                district_id=refund.district_id,
                school_id=refund.school_id,
            )
            return "failed"
    raise NotificationRefused("未知退款状态", "Unknown refund status", code="unknown_status")


def _post_refund_paid(refund: TopUpRefund) -> Posting:
    """Refunds due → out of provider clearing: the provider paid the money back."""
    scope = services.campus_scope(refund.campus_id)
    key = f"refund_paid:{refund.out_refund_no}"
    fen = refund.amount_fen

    def work() -> Posting:
        posting = services._post(
            kind=PostingKind.REFUND_PAID,
            key=key,
            legs=[
                services.Leg(services.house_ref(AccountKind.REFUND, scope.campus_id), -fen),
                services.Leg(services.house_ref(AccountKind.PROVIDER, scope.campus_id), fen),
            ],
            amount_fen=fen,
            memo=f"原路退款 {refund.out_refund_no}",
            scope=scope,
            student=refund.student,
            channel=Channel.ONLINE,
            reference=refund.out_refund_no,
        )
        services._audit(None, "ledger.refund_paid", posting, student_id=str(refund.student_id))
        return posting

    return services._run(
        kind=PostingKind.REFUND_PAID,
        key=key,
        work=work,
        same_request=lambda p: p.student_id == refund.student_id and p.amount_fen == fen,
    )


def refunds_to_channel(
    *,
    student: Student,
    actor: Any,
    reason: str,
    idempotency_key: str,
    amount: Money | None = None,
    after_commit: bool = False,
) -> list[TopUpRefund]:
    """Family money back to the online top-ups it came from, newest first: `amount` (a meal
    voided after payment) or, when None, the whole family share (a pupil leaving). Never more
    than the family share; what is left (cash or bank top-ups) stays for the office. Asked again
    with the same key, it returns the refunds already made."""
    done = list(TopUpRefund.objects.filter(idempotency_key__startswith=f"{idempotency_key}:").order_by("created_at"))
    if done:
        return done if after_commit else [_submit(refund) for refund in done]
    family = family_refundable_fen(student=student)
    left = family if amount is None else amount.fen
    if left > family:
        raise RefundRefused(
            "只能退还家长充值的余额（补助不退现）",
            "Only the family's own money is refunded (subsidy never becomes cash)",
            code="subsidy_not_refundable",
            details={"family_fen": family},
        )
    refunds = []
    orders = TopUpOrder.objects.filter(student=student, status=TopUpOrderStatus.PAID, provider__in=REAL).order_by(
        "-paid_at", "-created_at"
    )
    for order in orders:
        if left <= 0:
            break
        fen = min(left, _refundable_of(order))
        if fen <= 0:
            continue
        refunds.append(
            topup_refund_request(
                order=order,
                amount=Money(fen),
                actor=actor,
                reason=reason,
                idempotency_key=f"{idempotency_key}:{order.pk}",
                after_commit=after_commit,
            )
        )
        left -= fen
    return refunds


def refunds_for_leaving(
    *, student: Student, actor: Any, reason: str, idempotency_key: str, after_commit: bool = False
) -> list[TopUpRefund]:
    """A pupil leaves (org.life.student_leave calls this before closing the wallet, with
    after_commit): the whole family share goes back to the online top-ups it came from; the rest
    is for the wallet's closure."""
    return refunds_to_channel(
        student=student, actor=actor, reason=reason, idempotency_key=idempotency_key, after_commit=after_commit
    )


def refunds_sweep(*, limit: int = 200) -> dict[str, int]:
    """Resend refunds that never reached the provider; query the ones still processing."""
    counts = {"resent": 0, "settled": 0}
    for refund in TopUpRefund.objects.filter(status__in=_OPEN).order_by("created_at")[:limit]:
        if refund.status == RefundStatus.REQUESTED and not refund.provider_refund_id:
            _submit(refund)
            counts["resent"] += 1
            continue
        order = TopUpOrder.objects.select_related("merchant").get(pk=refund.order_id)
        try:
            answer = impl(order.provider).refund_query(refund=refund, merchant=order.merchant)
        except ProviderUnavailable:
            continue
        if refund_settle(
            provider=order.provider,
            out_refund_no=refund.out_refund_no,
            status=str(answer.get("status", "")),
            refund_id=str(answer.get("refund_id", "")),
            amount_fen=(answer.get("amount") or {}).get("refund"),
            source="query",
        ) in ("succeeded", "failed"):
            counts["settled"] += 1
    return counts
