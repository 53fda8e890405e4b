"""The providers' daily bills and the three-way reconciliation: provider bill ↔ top-up orders ↔
ledger postings, per day and merchant. Every mismatch becomes a ReconciliationItem that finance
staff fix (credit, reverse, settle the refund) or resolve with a reason; each fix is a posting
(or an audited resolution)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import ValidationFailed
from canteen.core.money import Money

from .. import services
from ..choices import Channel, MismatchKind, MismatchStatus, PostingKind, RefundStatus, TopUpOrderStatus
from ..models import Posting, Reconciliation, TopUpOrder
from . import wechat
from .crediting import topup_order_credit
from .models import Merchant, ReconciliationItem, TopUpRefund
from .refunds import refund_settle


class BillInvalid(ValidationFailed):
    code = "bill_invalid"
    message_zh = "账单格式不正确"
    message_en = "The bill is malformed"


@dataclass(frozen=True)
class BillRow:
    kind: str  # "payment" or "refund"
    at: datetime
    txn_id: str
    out_trade_no: str
    amount_fen: int  # the payment's amount, or the refund's
    out_refund_no: str = ""
    refund_id: str = ""
    sub_mchid: str = ""


def _fen(text: str) -> int:
    return Money.from_yuan(text).fen


def parse_wechat_bill(text: str) -> list[BillRow]:
    """WeChat Pay's trade bill (bill_type ALL): a header line, one line per payment or refund
    with every field prefixed by a backquote, then a summary header and a summary line (count,
    settled total, refund total, ...). The summary is checked against the lines."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("交易时间"):
        raise BillInvalid(details={"line": 1})
    header = lines[0].split(",")
    index = {name: i for i, name in enumerate(header)}
    need = [
        "交易时间",
        "微信订单号",
        "商户订单号",
        "交易状态",
        "应结订单金额",
        "商户退款单号",
        "微信退款单号",
        "退款金额",
    ]
    if any(name not in index for name in need):
        raise BillInvalid(details={"line": 1, "missing": [n for n in need if n not in index]})
    rows: list[BillRow] = []
    summary: list[str] | None = None
    tz = timezone.get_default_timezone()
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith("总交易单数"):
            if number >= len(lines):
                raise BillInvalid(details={"line": number, "reason": "summary line missing"})
            summary = [f.lstrip("`") for f in lines[number].split(",")]  # the line after it
            break
        fields = [f.lstrip("`") for f in line.split(",")]
        if len(fields) < len(header):
            raise BillInvalid(details={"line": number, "reason": "too few fields"})

        def get(name: str, fields: list[str] = fields) -> str:
            return fields[index[name]].strip()

        try:
            at = datetime.strptime(get("交易时间"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
            state = get("交易状态")
            sub = get("特约商户号") if "特约商户号" in index else ""
            if state == "REFUND":
                rows.append(
                    BillRow(
                        "refund",
                        at,
                        get("微信订单号"),
                        get("商户订单号"),
                        _fen(get("退款金额")),
                        get("商户退款单号"),
                        get("微信退款单号"),
                        "" if sub == "0" else sub,
                    )
                )
            else:
                rows.append(
                    BillRow(
                        "payment",
                        at,
                        get("微信订单号"),
                        get("商户订单号"),
                        _fen(get("应结订单金额")),
                        sub_mchid="" if sub == "0" else sub,
                    )
                )
        except (ValueError, TypeError) as exc:
            raise BillInvalid(details={"line": number, "reason": str(exc)[:80]}) from exc
    if summary is None:
        raise BillInvalid(details={"reason": "summary missing"})
    try:
        count, paid, refunded = int(summary[0]), _fen(summary[1]), _fen(summary[2])
    except (ValueError, IndexError) as exc:
        raise BillInvalid(details={"reason": "summary unreadable"}) from exc
    pays = [r for r in rows if r.kind == "payment"]
    refs = [r for r in rows if r.kind == "refund"]
    if count != len(rows) or paid != sum(r.amount_fen for r in pays) or refunded != sum(r.amount_fen for r in refs):
        raise BillInvalid(details={"reason": "summary does not match the lines", "count": count, "lines": len(rows)})
    return rows


def _day_range(day: date) -> tuple[datetime, datetime]:
    tz = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, start + timedelta(days=1)


def reconciliation_three_way(
    *, merchant: Merchant, day: date, rows: Iterable[BillRow], actor: Any, file_name: str = ""
) -> Reconciliation:
    """Match the bill's lines against our orders and refunds and their postings for one merchant
    and day; record each mismatch as an item to fix. A rerun supersedes the open items of the
    previous run of the same merchant and day."""
    rows = list(rows)
    start, end = _day_range(day)
    orders_of_day = {
        o.out_trade_no: o
        for o in TopUpOrder.objects.filter(
            merchant=merchant, status=TopUpOrderStatus.PAID, paid_at__gte=start, paid_at__lt=end
        )
    }
    billed_nos = {r.out_trade_no for r in rows if r.kind == "payment"}
    orders = {
        **orders_of_day,
        **{o.out_trade_no: o for o in TopUpOrder.objects.filter(merchant=merchant, out_trade_no__in=billed_nos)},
    }
    txns = [o.provider_txn_id for o in orders.values() if o.provider_txn_id] + [r.txn_id for r in rows]
    postings = {
        p.reference: p
        for p in Posting.objects.filter(kind=PostingKind.TOP_UP, channel=Channel.ONLINE, reference__in=set(txns))
    }
    refunds_of_day = {
        r.out_refund_no: r
        for r in TopUpRefund.objects.filter(
            order__merchant=merchant, status=RefundStatus.SUCCEEDED, succeeded_at__gte=start, succeeded_at__lt=end
        )
    }
    billed_refunds = {r.out_refund_no for r in rows if r.kind == "refund"}
    refunds = {
        **refunds_of_day,
        **{
            r.out_refund_no: r
            for r in TopUpRefund.objects.filter(order__merchant=merchant, out_refund_no__in=billed_refunds)
        },
    }
    items: list[dict[str, Any]] = []
    matched = 0
    seen: set[str] = set()
    for row in rows:
        if row.kind == "payment":
            seen.add(row.out_trade_no)
            order = orders.get(row.out_trade_no)
            base = {"out_trade_no": row.out_trade_no, "txn_id": row.txn_id, "bill_fen": row.amount_fen, "order": order}
            if order is None or order.status != TopUpOrderStatus.PAID:
                items.append(
                    {**base, "kind": MismatchKind.PAID_NOT_CREDITED, "order_fen": order.amount_fen if order else None}
                )
            elif order.amount_fen != row.amount_fen or order.provider_txn_id != row.txn_id:
                items.append(
                    {
                        **base,
                        "kind": MismatchKind.AMOUNT_DIFFERS,
                        "order_fen": order.amount_fen,
                        "posting": order.posting,
                    }
                )
            elif postings.get(row.txn_id) is None or postings[row.txn_id].amount_fen != row.amount_fen:
                posting = postings.get(row.txn_id)
                items.append(
                    {
                        **base,
                        "kind": MismatchKind.ORDER_WITHOUT_POSTING,
                        "order_fen": order.amount_fen,
                        "ledger_fen": posting.amount_fen if posting else None,
                        "posting": posting,
                    }
                )
            else:
                matched += 1
        else:
            refund = refunds.get(row.out_refund_no)
            if refund is None or refund.status != RefundStatus.SUCCEEDED or refund.amount_fen != row.amount_fen:
                items.append(
                    {
                        "kind": MismatchKind.REFUND_MISSING,
                        "out_trade_no": row.out_trade_no,
                        "txn_id": row.txn_id,
                        "out_refund_no": row.out_refund_no,
                        "bill_fen": row.amount_fen,
                        "ledger_fen": refund.amount_fen if refund else None,
                        "order": refund.order if refund else None,
                    }
                )
            else:
                matched += 1
    for no, order in orders_of_day.items():
        if no not in seen:
            posting = postings.get(order.provider_txn_id)
            items.append(
                {
                    "kind": MismatchKind.CREDITED_NOT_IN_BILL,
                    "out_trade_no": no,
                    "txn_id": order.provider_txn_id,
                    "order_fen": order.amount_fen,
                    "ledger_fen": posting.amount_fen if posting else None,
                    "order": order,
                    "posting": posting,
                }
            )
    for no, refund in refunds_of_day.items():
        if no not in billed_refunds:
            items.append(
                {
                    "kind": MismatchKind.REFUND_NOT_IN_BILL,
                    "out_trade_no": refund.order.out_trade_no,
                    "out_refund_no": no,
                    "ledger_fen": refund.amount_fen,
                    "order": refund.order,
                    "posting": refund.settled_posting,
                }
            )
    with transaction.atomic():
        previous = ReconciliationItem.objects.filter(
            reconciliation__merchant=merchant, day=day, status=MismatchStatus.OPEN
        )
        previous.update(
            status=MismatchStatus.RESOLVED,
            reason="重新对账，以新结果为准 Superseded by a rerun",
            resolved_at=timezone.now(),
        )
        rec = Reconciliation.objects.create(
            provider=merchant.provider,
            settlement_date=day,
            file_name=file_name[:200],
            rows=len(rows),
            matched=matched,
            mismatches=[
                {k: (v if isinstance(v, (int, str, type(None))) else str(v.pk)) for k, v in item.items()}
                for item in items
            ],
            district_id=merchant.district_id,
            merchant=merchant,
            actor=actor if getattr(actor, "pk", None) else None,
        )
        ReconciliationItem.objects.bulk_create(
            [
                ReconciliationItem(
                    reconciliation=rec,
                    provider=merchant.provider,
                    day=day,
                    district_id=merchant.district_id,
                    school_id=merchant.school_id,
                    **{k: v for k, v in item.items()},
                )
                for item in items
            ]
        )
        audit_record(
            actor=actor,
            action="ledger.reconciliation",
            target=rec,
            after={"rows": len(rows), "matched": matched, "mismatches": len(items), "merchant": str(merchant.pk)},
            district_id=merchant.district_id,
            school_id=merchant.school_id,
        )
    return rec


def provider_reconcile_day(*, merchant: Merchant, day: date, actor: Any = None) -> Reconciliation:
    """Download the merchant's bill of the day from its provider and reconcile it."""
    from . import alipay

    if merchant.provider == alipay.NAME:
        rows = alipay.parse_bill(alipay.trade_bill(merchant=merchant, day=day))
    else:
        rows = parse_wechat_bill(wechat.trade_bill(merchant=merchant, day=day))
    return reconciliation_three_way(
        merchant=merchant, day=day, rows=rows, actor=actor, file_name=f"{merchant.provider}-bill-{day}.csv"
    )


wechat_reconcile_day = provider_reconcile_day


FIXES = {
    "credit": {MismatchKind.PAID_NOT_CREDITED},
    "reverse": {MismatchKind.CREDITED_NOT_IN_BILL, MismatchKind.AMOUNT_DIFFERS},
    "settle_refund": {MismatchKind.REFUND_MISSING},
    "resolve": set(MismatchKind.values),
}


def reconciliation_item_fix(*, item: ReconciliationItem, action: str, actor: Any, reason: str) -> ReconciliationItem:
    """Finance staff fix one mismatch: credit the wallet (the bill shows the payer paid), reverse
    the posting (credited but the provider has no such payment), settle the refund the bill
    shows, or resolve with a reason (e.g. a payment at 23:59:59 that is on the next day's bill)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请填写原因", "Give a reason", code="reason_required")
    if action not in FIXES or item.kind not in FIXES[action]:
        raise ValidationFailed("该差异不能这样处理", "This fix does not apply to this mismatch", code="invalid_fix")
    with transaction.atomic():
        item = ReconciliationItem.objects.select_for_update().get(pk=item.pk)
        if item.status != MismatchStatus.OPEN:
            return item
        fix_posting = None
        if action == "credit":
            if item.order_id is None:
                raise ValidationFailed(
                    "找不到对应订单，只能说明原因", "No order to credit; resolve it with a reason", code="invalid_fix"
                )
            credit = topup_order_credit(
                provider=item.provider,
                out_trade_no=item.out_trade_no,
                txn_id=item.txn_id,
                amount_fen=item.bill_fen,
                source="reconciliation",
                actor=actor,
            )
            fix_posting = credit.posting
        elif action == "reverse":
            if item.posting_id is None:
                raise ValidationFailed("没有可冲正的记账", "No posting to reverse", code="invalid_fix")
            fix_posting = services.posting_reverse(
                posting=item.posting, actor=actor, reason=reason, idempotency_key=f"reconciliation:{item.pk}"
            )
            if item.order_id:
                TopUpOrder.objects.filter(pk=item.order_id).update(
                    status=TopUpOrderStatus.FAILED, updated_at=timezone.now()
                )
        elif action == "settle_refund":
            refund_settle(
                provider=item.provider,
                out_refund_no=item.out_refund_no,
                status="SUCCESS",
                refund_id="",
                amount_fen=item.bill_fen,
                source="reconciliation",
            )
            fix_posting = TopUpRefund.objects.get(out_refund_no=item.out_refund_no).settled_posting
        now = timezone.now()
        status = MismatchStatus.RESOLVED if action == "resolve" else MismatchStatus.FIXED
        ReconciliationItem.objects.filter(pk=item.pk).update(
            status=status,
            reason=reason[:300],
            fix_posting=fix_posting,
            resolved_by=actor if getattr(actor, "pk", None) else None,
            resolved_at=now,
            updated_at=now,
        )
        audit_record(
            actor=actor,
            action="ledger.reconciliation_fix",
            target=item,
            before={"status": MismatchStatus.OPEN, "kind": item.kind},
            after={
                "status": status,
                "action": action,
                "reason": reason[:300],
                "posting": str(fix_posting.pk) if fix_posting else None,
            },
            district_id=item.district_id,
            school_id=item.school_id,
        )
    item.refresh_from_db()
    return item
