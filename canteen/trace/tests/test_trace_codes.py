"""Every accepted batch gets a trace code when the canteen accepts it; rejected ones do not."""

import pytest

from canteen.trace import gs1, services
from canteen.trace.errors import BatchNotAccepted
from canteen.trace.models import EpcisEvent, TraceCode
from canteen.trace.services import CODE_ALPHABET, CODE_LENGTH

pytestmark = pytest.mark.django_db


def test_acceptance_issues_one_unguessable_code_per_batch(journey):
    codes = list(TraceCode.objects.all())
    assert len(codes) == 2
    for code in codes:
        assert len(code.code) == CODE_LENGTH
        assert set(code.code) <= set(CODE_ALPHABET)
        assert len(code.gtin) == 14
        # GS1 Prefix 04 (restricted circulation within a company), with a valid check digit
        assert code.gtin.startswith("004")
        assert gs1.is_valid_key(code.gtin, 14)
    assert codes[0].code != codes[1].code
    # receiving, inspecting, storing captured as EPCIS events at acceptance
    steps = sorted(EpcisEvent.objects.filter(codes=journey.cabbage_code).values_list("biz_step", flat=True))
    assert steps == ["inspecting", "receiving", "storing"]


def test_issuing_again_returns_the_same_code(journey):
    again = services.trace_code_issue(batch_id=journey.cabbage_code.batch_id)
    assert again.pk == journey.cabbage_code.pk
    assert TraceCode.objects.count() == 2


def test_a_rejected_batch_gets_no_code(world):
    from canteen.org.choices import Role
    from canteen.procurement import services as proc
    from canteen.procurement.choices import CheckResult
    from canteen.procurement.tests.factories import batch_line, make_confirmed_order, make_item, make_supplier

    supplier = make_supplier(world, user=world.user(Role.SUPPLIER_USER))
    fish = make_item(world, code="A1", name="草鱼", price="15.00", supplier=supplier)
    order = make_confirmed_order(world, supplier, [(fish, "5")])
    delivery = proc.delivery_dispatch(
        actor=world.user(Role.SUPPLIER_USER), order=order, lines=[batch_line(order.lines.get(), "5", number="F1")]
    )
    keeper = world.user(Role.STOREKEEPER)
    proc.delivery_arrive(actor=keeper, delivery=delivery)
    line = delivery.lines.get()
    proc.delivery_accept(
        actor=keeper, delivery=delivery, decisions=[{"line": line, "result": CheckResult.REJECT, "reason": "不新鲜"}]
    )
    assert not TraceCode.objects.filter(batch=line.batch).exists()
    with pytest.raises(BatchNotAccepted):
        services.trace_code_issue(batch_id=line.batch.pk)
