"""A purchase order goes draft → submitted → approved → sent → confirmed → delivered → closed;
every move writes a history row, and moves outside the map are refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from canteen.core.errors import InvalidTransition, ValidationFailed
from canteen.core.models import AuditEvent
from canteen.org.choices import Role
from canteen.org.tests.factories import make_user
from canteen.procurement import services
from canteen.procurement.choices import OrderStatus
from canteen.procurement.errors import NotInCatalogue, NotPermitted, NotYourSupplier
from canteen.procurement.models import OrderStatusChange, PurchaseOrder
from canteen.procurement.services import ORDER_MOVES

from .factories import make_item, make_supplier

pytestmark = pytest.mark.django_db


def _draft(proc, **kw):
    return services.order_create(
        actor=proc.user(Role.CANTEEN_MANAGER),
        campus=proc.world.campuses[0],
        supplier=proc.supplier,
        delivery_day=timezone.localdate() + timedelta(days=1),
        meal_kind="lunch",
        lines=[{"item": proc.cabbage, "quantity": "30.5"}, {"item": proc.pork.pk, "quantity": "12"}],
        **kw,
    )


def test_order_priced_from_framework_and_walks_the_happy_path(proc):
    manager, admin, supplier_user = (
        proc.user(Role.CANTEEN_MANAGER),
        proc.user(Role.SCHOOL_ADMIN),
        proc.user(Role.SUPPLIER_USER),
    )
    order = _draft(proc)
    # 30.5 kg × 2.50 + 12 kg × 26.00 = 76.25 + 312.00
    assert order.total_fen == 7625 + 31200
    assert {line.price_fen for line in order.lines.all()} == {250, 2600}

    services.order_submit(actor=manager, order=order)
    services.order_approve(actor=admin, order=order)
    services.order_send(actor=manager, order=order)
    services.order_confirm(actor=supplier_user, order=order, note="明早7点送达")
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    history = list(order.history.values_list("from_status", "to_status", "actor_label"))
    assert history == [
        ("", "draft", manager.username),
        ("draft", "submitted", manager.username),
        ("submitted", "approved", admin.username),
        ("approved", "sent", manager.username),
        ("sent", "confirmed", supplier_user.username),
    ]
    assert AuditEvent.objects.filter(target_id=str(order.pk), action="procurement.order_confirmed").exists()


def test_moves_outside_the_map_are_refused_and_leave_no_history(proc):
    manager, admin = proc.user(Role.CANTEEN_MANAGER), proc.user(Role.SCHOOL_ADMIN)
    order = _draft(proc)
    with pytest.raises(InvalidTransition) as exc:
        services.order_approve(actor=admin, order=order)  # draft → approved skips submission
    assert exc.value.details["from"] == "draft"
    with pytest.raises(InvalidTransition):
        services.order_send(actor=manager, order=order)
    with pytest.raises(InvalidTransition):
        services.order_confirm(actor=proc.user(Role.SUPPLIER_USER), order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    assert order.history.count() == 1

    services.order_cancel(actor=manager, order=order, reason="菜单调整")
    with pytest.raises(InvalidTransition):
        services.order_submit(actor=manager, order=order)  # cancelled is final
    assert ORDER_MOVES[OrderStatus.CANCELLED] == frozenset()
    assert ORDER_MOVES[OrderStatus.CLOSED] == frozenset()


def test_every_declared_move_is_reachable_and_undeclared_ones_refused(proc):
    """Exhaustively: order_transition accepts exactly the moves in ORDER_MOVES."""
    order = _draft(proc)
    for from_status in OrderStatus.values:
        for to_status in OrderStatus.values:
            PurchaseOrder.objects.filter(pk=order.pk).update(status=from_status)
            order.refresh_from_db()
            from django.db import transaction

            allowed = to_status in ORDER_MOVES[from_status]
            try:
                with transaction.atomic():
                    services.order_transition(order=order, to_status=to_status, actor=None)
                    raise RuntimeError("rollback")
            except InvalidTransition:
                assert not allowed, (from_status, to_status)
            except RuntimeError:
                assert allowed, (from_status, to_status)


def test_return_to_draft_edit_and_resubmit(proc):
    manager, admin = proc.user(Role.CANTEEN_MANAGER), proc.user(Role.SCHOOL_ADMIN)
    order = _draft(proc)
    services.order_submit(actor=manager, order=order)
    with pytest.raises(InvalidTransition):
        services.order_replace_lines(actor=manager, order=order, lines=[{"item": proc.rice, "quantity": "1"}])
    services.order_return(actor=admin, order=order, reason="猪肉数量偏多")
    services.order_replace_lines(actor=manager, order=order, lines=[{"item": proc.rice, "quantity": "2"}])
    order.refresh_from_db()
    assert order.total_fen == 24000
    assert order.lines.count() == 1
    services.order_submit(actor=manager, order=order)
    assert list(order.history.values_list("to_status", flat=True)) == ["draft", "submitted", "draft", "submitted"]


def test_roles_and_suppliers_are_checked(proc, world):
    manager = proc.user(Role.CANTEEN_MANAGER)
    order = _draft(proc)
    services.order_submit(actor=manager, order=order)
    with pytest.raises(NotPermitted):
        services.order_approve(actor=manager, order=order)  # the orderer does not approve
    with pytest.raises(NotPermitted):
        services.order_approve(actor=proc.user(Role.GUARDIAN), order=order)
    services.order_approve(actor=proc.user(Role.SCHOOL_ADMIN), order=order)
    services.order_send(actor=manager, order=order)
    other = make_user("other-supplier", Role.SUPPLIER_USER)
    make_supplier(world, name="别家", user=other)
    with pytest.raises(NotYourSupplier):
        services.order_confirm(actor=other, order=order)
    # The supplier may decline what it was sent, with a reason.
    services.order_cancel(actor=proc.user(Role.SUPPLIER_USER), order=order, reason="缺货")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert OrderStatusChange.objects.filter(order=order, to_status="cancelled", note="缺货").exists()


def test_only_catalogue_items_at_a_framework_price(proc, world):
    manager = proc.user(Role.CANTEEN_MANAGER)
    unpriced = make_item(world, code="V999", name="未定价菜")
    other_district_item = make_item(world, district=world.districts[1], code="V001", name="外区白菜")
    day = timezone.localdate() + timedelta(days=1)
    for item in (unpriced, other_district_item):
        with pytest.raises(NotInCatalogue):
            services.order_create(
                actor=manager,
                campus=world.campuses[0],
                supplier=proc.supplier,
                delivery_day=day,
                meal_kind="lunch",
                lines=[{"item": item, "quantity": "1"}],
            )
    with pytest.raises(ValidationFailed) as bad:
        services.order_create(
            actor=manager,
            campus=world.campuses[0],
            supplier=proc.supplier,
            delivery_day=day,
            meal_kind="lunch",
            lines=[{"item": proc.cabbage, "quantity": "-3"}],
        )
    assert bad.value.details == {"quantity": "-3"}
    assert not PurchaseOrder.objects.exists()
