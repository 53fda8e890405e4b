"""Food cost booked at acceptance (issue 22): the ledger side of procurement's goods in and out.

    delivery accepted   food cost -x (debit), payable to the supplier +x   (GOODS_RECEIVED)
    goods returned      payable -y (guarded: never below zero), food cost +y   (GOODS_RETURNED)

x is the accepted quantity × the delivery line's (framework) price, y the returned quantity × the
same price. The supplier's invoice, when it comes, is matched against the receipt (procurement's
three-way match) and posts nothing here: the cost was booked when the food came in, so the
disclosure's food spending equals the accepted deliveries net of returns whether or not an
invoice was typed. A delivery accepted before this rule (no GOODS_RECEIVED posting) is still
costed by its invoice (services.supplier_invoice_record).

The ledger knows suppliers and deliveries by id only (procurement is installed after it)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from canteen.core.money import Money
from canteen.org.models import Campus

from . import services
from .choices import AccountKind, PostingKind
from .models import Posting


def received_key(delivery_id: uuid.UUID | str) -> str:
    return f"procurement:delivery:{delivery_id}:received"


def goods_received_record(
    *,
    delivery_id: uuid.UUID,
    supplier_id: uuid.UUID,
    supplier_name: str,
    campus: Campus | uuid.UUID,
    amount: Money,
    on: date,
    reference: str,
    actor: Any,
) -> Posting:
    """An accepted delivery: food cost and the payable to its supplier, once per delivery."""
    fen = services._positive(amount)
    scope = services.campus_scope(campus)
    key = received_key(delivery_id)

    def work() -> Posting:
        cost = services.house_ref(AccountKind.FOOD_COST, scope.campus_id)
        payable = services.house_ref(
            AccountKind.PAYABLE, scope.campus_id, owner_id=supplier_id, name=f"应付 {supplier_name}"[:120]
        )
        posting = services._post(
            kind=PostingKind.GOODS_RECEIVED,
            key=key,
            legs=[services.Leg(cost, -fen), services.Leg(payable, fen)],
            amount_fen=fen,
            actor=actor,
            memo=f"验收 {supplier_name}"[:200],
            on=on,
            scope=scope,
            reference=reference,
            counterparty_id=supplier_id,
            event="ledger.goods_received",
            event_extra={"supplier_id": str(supplier_id), "delivery_id": str(delivery_id)},
        )
        services._audit(actor, "ledger.goods_received", posting, delivery_id=str(delivery_id), reference=reference)
        return posting

    return services._run(
        kind=PostingKind.GOODS_RECEIVED,
        key=key,
        work=work,
        same_request=lambda p: p.counterparty_id == supplier_id and p.amount_fen == fen,
    )


def goods_returned_record(
    *,
    return_ref: str,
    delivery_id: uuid.UUID,
    supplier_id: uuid.UUID,
    supplier_name: str,
    campus: Campus | uuid.UUID,
    amount: Money,
    on: date,
    actor: Any,
) -> Posting:
    """Goods sent back to the supplier after acceptance: the cost and the payable come down."""
    fen = services._positive(amount)
    scope = services.campus_scope(campus)
    key = f"procurement:return:{return_ref}"

    def work() -> Posting:
        cost = services.house_ref(AccountKind.FOOD_COST, scope.campus_id)
        payable = services.house_ref(
            AccountKind.PAYABLE, scope.campus_id, owner_id=supplier_id, name=f"应付 {supplier_name}"[:120]
        )
        posting = services._post(
            kind=PostingKind.GOODS_RETURNED,
            key=key,
            legs=[services.Leg(payable, -fen, guard=True), services.Leg(cost, fen)],
            amount_fen=fen,
            actor=actor,
            memo=f"退货 {supplier_name}"[:200],
            on=on,
            scope=scope,
            reference=return_ref,
            counterparty_id=supplier_id,
            event="ledger.goods_returned",
            event_extra={"supplier_id": str(supplier_id), "delivery_id": str(delivery_id)},
        )
        services._audit(actor, "ledger.goods_returned", posting, delivery_id=str(delivery_id), reference=return_ref)
        return posting

    return services._run(
        kind=PostingKind.GOODS_RETURNED,
        key=key,
        work=work,
        same_request=lambda p: p.counterparty_id == supplier_id and p.amount_fen == fen,
    )


def goods_received_posted(*, delivery_id: uuid.UUID) -> bool:
    """Whether the delivery's cost was booked at acceptance (else its invoice books it)."""
    return Posting.objects.filter(kind=PostingKind.GOODS_RECEIVED, idempotency_key=received_key(delivery_id)).exists()
