"""The pages, driven through Django's test client as each role would use them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from canteen.org.choices import Role
from canteen.procurement import services
from canteen.procurement.models import Batch, Delivery, PurchaseOrder, StockMovement

from .factories import batch_line, make_confirmed_order, qc_pdf, regulator_of

pytestmark = pytest.mark.django_db


def _client(client, user):
    client.force_login(user)
    return client


def test_storekeeper_checks_a_delivery_on_the_form(client, proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "20"), (proc.pork, "6")])
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER),
        order=order,
        lines=[batch_line(line, line.quantity, number=f"B{line.item.code}") for line in order.lines.all()],
    )
    c = _client(client, proc.user(Role.STOREKEEPER))
    assert "开始验收" in c.get(reverse("procurement:deliveries")).content.decode()
    url = reverse("procurement:accept", args=[delivery.pk])
    page = c.get(url).content.decode()
    assert "大白菜" in page
    assert "检验报告" in page
    cab = delivery.lines.get(item=proc.cabbage)
    pork = delivery.lines.get(item=proc.pork)
    # A partial acceptance without a reason is refused with a message; nothing is stored.
    response = c.post(
        url,
        {"temperature": "4", f"result-{cab.pk}": "partial", f"accepted-{cab.pk}": "18", f"result-{pork.pk}": "accept"},
        follow=True,
    )
    assert "原因" in response.content.decode()
    assert not StockMovement.objects.exists()
    response = c.post(
        url,
        {
            f"result-{cab.pk}": "partial",
            f"accepted-{cab.pk}": "18",
            f"reason-{cab.pk}": "2kg 黄叶",
            f"result-{pork.pk}": "accept",
        },
        follow=True,
    )
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "partially_accepted"
    assert delivery.arrival_temperature_c == 4


def test_campus_orders_from_the_catalogue_and_the_school_approves(client, proc):
    c = _client(client, proc.user(Role.CANTEEN_MANAGER))
    day = (timezone.localdate() + timedelta(days=1)).isoformat()
    page = c.get(reverse("procurement:order-new"), {"day": day, "supplier": proc.supplier.pk}).content.decode()
    assert "大白菜" in page
    response = c.post(
        reverse("procurement:order-new"),
        {
            "supplier": proc.supplier.pk,
            "day": day,
            "meal_kind": "lunch",
            f"qty-{proc.cabbage.pk}": "12.5",
            "submit": "1",
        },
    )
    order = PurchaseOrder.objects.get()
    assert response.url == reverse("procurement:order", args=[order.pk])
    assert order.status == "submitted"
    assert order.total_fen == 3125
    c = _client(client, proc.user(Role.SCHOOL_ADMIN))
    c.post(reverse("procurement:order-action", args=[order.pk]), {"action": "approve"})
    order.refresh_from_db()
    assert order.status == "approved"
    # A refused move shows a message instead of an error page.
    response = c.post(reverse("procurement:order-action", args=[order.pk]), {"action": "approve"}, follow=True)
    assert "当前状态不允许此操作" in response.content.decode()


def test_supplier_portal_confirms_and_records_a_delivery(client, proc):
    manager = proc.user(Role.CANTEEN_MANAGER)
    order = services.order_create(
        actor=manager,
        campus=proc.world.campuses[0],
        supplier=proc.supplier,
        delivery_day=timezone.localdate(),
        meal_kind="lunch",
        lines=[{"item": proc.rice, "quantity": "2"}],
    )
    services.order_submit(actor=manager, order=order)
    services.order_approve(actor=proc.user(Role.SCHOOL_ADMIN), order=order)
    services.order_send(actor=manager, order=order)
    c = _client(client, proc.user(Role.SUPPLIER_USER))
    portal = c.get(reverse("procurement:portal")).content.decode()
    assert order.number in portal
    c.post(reverse("procurement:order-action", args=[order.pk]), {"action": "confirm"})
    line = order.lines.get()
    response = c.post(
        reverse("procurement:deliver", args=[order.pk]),
        {
            f"qty-{line.pk}": "2",
            f"batch-{line.pk}": "R-88",
            f"producer-{line.pk}": "楚粮米业",
            f"produced-{line.pk}": (timezone.localdate() - timedelta(days=20)).isoformat(),
            f"qc-{line.pk}": qc_pdf(),
            "vehicle_plate": "鄂D·88888",
        },
    )
    assert response.status_code == 302
    batch = Batch.objects.get()
    assert batch.batch_number == "R-88"
    assert batch.qc_report_content_type == "application/pdf"
    assert Delivery.objects.get().vehicle_plate == "鄂D·88888"


def test_stock_issue_and_district_pages(client, proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.cabbage, "10")])
    delivery = services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER), order=order, lines=[batch_line(order.lines.get(), "10")]
    )
    services.delivery_accept(
        actor=proc.user(Role.STOREKEEPER),
        delivery=delivery,
        decisions=[{"line": delivery.lines.get(), "result": "accept"}],
    )
    c = _client(client, proc.user(Role.STOREKEEPER))
    response = c.post(
        reverse("procurement:stock"),
        {
            "item": proc.cabbage.pk,
            "quantity": "4",
            "day": timezone.localdate().isoformat(),
            "meal_kind": "lunch",
            "dish_name": "手撕包菜",
        },
        follow=True,
    )
    assert "先到期先出" in response.content.decode()
    assert Batch.objects.get().on_hand == 6
    assert "6" in c.get(reverse("procurement:stock")).content.decode()
    batch_page = c.get(reverse("procurement:batch", args=[Batch.objects.get().pk])).content.decode()
    assert "手撕包菜" in batch_page

    reg = regulator_of(proc.world, proc.world.districts[0])
    c = _client(client, reg)
    day = timezone.localdate().isoformat()
    demand = c.get(reverse("procurement:demand"), {"day": day}).content.decode()
    assert proc.supplier.name in demand
    assert "¥25.00" in demand
    for name in ("catalogue", "suppliers", "orders"):
        assert c.get(reverse(f"procurement:{name}")).status_code == 200
    assert c.get(reverse("procurement:item", args=[proc.cabbage.pk])).status_code == 200


def test_guardian_sees_nothing(client, proc):
    c = _client(client, proc.user(Role.GUARDIAN))
    assert proc.supplier.name not in c.get(reverse("procurement:demand")).content.decode()
    assert c.get(reverse("procurement:item", args=[proc.cabbage.pk])).status_code == 404


def test_district_admits_a_supplier_and_prices_a_new_item(client, proc):
    from canteen.procurement.models import FrameworkPrice, Item, Supplier

    from .factories import make_uscc

    reg = regulator_of(proc.world, proc.world.districts[0])
    c = _client(client, reg)
    uscc = make_uscc(90001)
    c.post(reverse("procurement:supplier-new"), {"name": "荆州新鲜达", "uscc": uscc, "contact_name": "刘"})
    supplier = Supplier.objects.get(uscc=uscc)
    response = c.post(
        reverse("procurement:licence-new", args=[supplier.pk]),
        {
            "kind": "food_business",
            "number": "JY-9",
            "expires_on": (timezone.localdate() + timedelta(days=300)).isoformat(),
            "scan": qc_pdf("licence.pdf"),
        },
        follow=True,
    )
    assert "证照已登记" in response.content.decode()
    assert supplier.licences.get().scan_content_type == "application/pdf"
    c.post(reverse("procurement:supplier-approval", args=[supplier.pk]), {"approved": "1"})
    services.supplier_assert_can_trade(supplier=supplier)
    c.post(
        reverse("procurement:item-new"),
        {
            "code": "V777",
            "name": "紫甘蓝",
            "category": "vegetable",
            "unit": "kg",
            "shelf_life_days": "7",
            "storage": "ambient",
            "quick_tests": "pesticide_residue",
        },
    )
    item = Item.objects.get(code="V777")
    assert item.quick_tests == ["pesticide_residue"]
    c.post(
        reverse("procurement:price-set", args=[item.pk]),
        {"supplier": supplier.pk, "price": "3.60", "valid_from": timezone.localdate().isoformat()},
    )
    assert FrameworkPrice.objects.get(item=item).price_fen == 360
    # A bad price is a message, not a crash.
    response = c.post(
        reverse("procurement:price-set", args=[item.pk]), {"supplier": supplier.pk, "price": "3.6.0"}, follow=True
    )
    assert "价格格式有误" in response.content.decode()


def test_supplier_uploads_a_renewed_licence_in_the_portal(client, proc):
    from canteen.procurement.models import Licence

    Licence.objects.filter(supplier=proc.supplier, kind="food_business").update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )
    c = _client(client, proc.user(Role.SUPPLIER_USER))
    assert "证照过期" in c.get(reverse("procurement:portal")).content.decode()
    c.post(
        reverse("procurement:licence-new", args=[proc.supplier.pk]),
        {
            "kind": "food_business",
            "number": "JY-RENEW",
            "expires_on": (timezone.localdate() + timedelta(days=900)).isoformat(),
        },
    )
    services.supplier_assert_can_trade(supplier=proc.supplier)
    assert "证照过期" not in c.get(reverse("procurement:portal")).content.decode()


def test_qc_report_is_served_to_the_campus_only(client, proc):
    order = make_confirmed_order(proc.world, proc.supplier, [(proc.rice, "1")])
    services.delivery_dispatch(
        actor=proc.user(Role.SUPPLIER_USER), order=order, lines=[batch_line(order.lines.get(), "1")]
    )
    batch = Batch.objects.get()
    c = _client(client, proc.user(Role.STOREKEEPER))
    response = c.get(reverse("procurement:qc-report", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    c = _client(client, proc.user(Role.GUARDIAN))
    assert c.get(reverse("procurement:qc-report", args=[batch.pk])).status_code == 404


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "not-a-day"])
def test_the_combined_demand_for_an_impossible_day_is_a_400(client, proc, day):
    c = _client(client, regulator_of(proc.world, proc.world.districts[0]))
    assert c.get(reverse("procurement:demand"), {"day": day}).status_code == 400
