"""The home page's to-do items of procurement: deliveries waiting at the store room, orders
waiting for the school's approval, and for a supplier the orders to confirm."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from canteen.core.i18n import tr
from canteen.core.todo import URGENT, WARN, Todo

from .choices import DeliveryStatus, OrderStatus
from .selectors import delivery_list, order_list


def todo_items(actor: Any) -> list[Todo]:
    role = getattr(actor, "role", "")
    items: list[Todo] = []
    if role in ("storekeeper", "canteen_manager"):
        waiting = (
            delivery_list(actor=actor).filter(status__in=[DeliveryStatus.DISPATCHED, DeliveryStatus.ARRIVED]).count()
        )
        if waiting:
            items.append(
                Todo(
                    tr(f"{waiting} 批送货待验收", f"{waiting} deliveries waiting for acceptance"),
                    reverse("procurement:deliveries"),
                    URGENT,
                    waiting,
                    kind="procurement.deliveries_waiting",
                )
            )
    if role == "school_admin":
        submitted = order_list(actor=actor, status=OrderStatus.SUBMITTED).count()
        if submitted:
            items.append(
                Todo(
                    tr(f"{submitted} 张采购订单待审批", f"{submitted} purchase orders to approve"),
                    f"{reverse('procurement:orders')}?status={OrderStatus.SUBMITTED}",
                    WARN,
                    submitted,
                    kind="procurement.orders_to_approve",
                )
            )
    if role == "supplier_user":
        sent = order_list(actor=actor, status=OrderStatus.SENT).count()
        if sent:
            items.append(
                Todo(
                    tr(f"{sent} 张订单待确认", f"{sent} orders to confirm"),
                    reverse("procurement:portal"),
                    URGENT,
                    sent,
                    kind="procurement.orders_to_confirm",
                )
            )
    return items
