"""A parent tops up online: the provider's signed notification credits the wallet exactly once,
however often it is delivered; forged or mismatched notifications are refused and kept; the
day's settlement file is reconciled against our top-ups with the mismatches listed."""

import pytest
from django.utils import timezone

from canteen.core.money import Money
from canteen.ledger import services
from canteen.ledger.errors import InvalidAmount, NotYourChild, SignatureInvalid
from canteen.ledger.models import ProviderNotification, TopUpOrder
from canteen.ledger.providers import DemoProvider
from canteen.ledger.selectors import balance_of
from canteen.org.choices import Role

from .helpers import assert_books_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(world):
    return services.topup_order_create(student=world.students[0], amount=Money(10_000), actor=world.user(Role.GUARDIAN))


def test_the_signed_notification_credits_the_wallet_once(world, order):
    body, signature = DemoProvider().pay(order)
    first = services.provider_notification_handle(provider="demo", body=body, signature=signature)
    again = services.provider_notification_handle(provider="demo", body=body, signature=signature)
    assert first.pk == again.pk
    assert balance_of(student=world.students[0]) == Money(10_000)
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.posting_id == first.pk
    assert list(ProviderNotification.objects.values_list("outcome", flat=True).order_by("id")) == [
        "posted",
        "duplicate",
    ]
    assert_books_balance()


def test_a_forged_notification_is_refused_and_recorded(world, order):
    body, _ = DemoProvider().pay(order)
    forged = dict(body, amount_fen=1_000_000)
    with pytest.raises(SignatureInvalid):
        services.provider_notification_handle(
            provider="demo", body=forged, signature=DemoProvider("wrong").sign(forged)
        )
    assert balance_of(student=world.students[0]) == Money(0)
    assert ProviderNotification.objects.get().outcome == "bad_signature"


def test_a_signed_notification_for_the_wrong_amount_is_refused(world, order):
    provider = DemoProvider()
    body, _ = provider.pay(order)
    body = dict(body, amount_fen=1)
    with pytest.raises(InvalidAmount):
        services.provider_notification_handle(provider="demo", body=body, signature=provider.sign(body))
    assert ProviderNotification.objects.get().outcome == "rejected"
    assert TopUpOrder.objects.get().status == "created"


def test_a_second_transaction_for_a_paid_order_does_not_credit_twice(world, order):
    provider = DemoProvider()
    body, signature = provider.pay(order)
    services.provider_notification_handle(provider="demo", body=body, signature=signature)
    other = dict(body, txn_id="DEMO-OTHER")
    with pytest.raises(InvalidAmount):
        services.provider_notification_handle(provider="demo", body=other, signature=provider.sign(other))
    assert balance_of(student=world.students[0]) == Money(10_000)


def test_a_guardian_cannot_top_up_someone_elses_child(world):
    with pytest.raises(NotYourChild):
        services.topup_order_create(student=world.students[5], amount=Money(100), actor=world.user(Role.GUARDIAN))


def test_the_settlement_file_is_reconciled_with_mismatches_listed(world, order):
    provider = DemoProvider()
    body, signature = provider.pay(order)
    posting = services.provider_notification_handle(provider="demo", body=body, signature=signature)
    # A second payment the provider took but never told us about (a lost notification).
    lost = services.topup_order_create(student=world.students[0], amount=Money(2_000), actor=world.user(Role.GUARDIAN))
    provider.pay(lost)
    today = timezone.localdate()
    csv_text = provider.settlement_csv(today)
    rec = services.reconciliation_run(provider="demo", day=today, csv_text=csv_text, actor=None)
    assert rec.rows == 2
    assert rec.matched == 1
    assert [m["kind"] for m in rec.mismatches] == ["missing_in_ledger"]
    assert rec.mismatches[0]["file_fen"] == 2_000

    # A tampered file: wrong amount on our transaction, a duplicated line, garbage, and our
    # posting missing from another file.
    tampered = csv_text.replace("100.00", "99.00") + csv_text.splitlines()[1] + "\nX,Y,abc,\n"
    rec = services.reconciliation_run(provider="demo", day=today, csv_text=tampered, actor=None)
    kinds = sorted(m["kind"] for m in rec.mismatches)
    assert kinds == ["amount_differs", "bad_row", "duplicate_in_file", "missing_in_ledger"]
    differs = next(m for m in rec.mismatches if m["kind"] == "amount_differs")
    assert (differs["file_fen"], differs["ledger_fen"], differs["posting_id"]) == (9_900, 10_000, str(posting.pk))
    empty = services.reconciliation_run(
        provider="demo", day=today, csv_text="txn_id,out_trade_no,amount_yuan,paid_at\n", actor=None
    )
    assert [m["kind"] for m in empty.mismatches] == ["missing_in_settlement"]


def test_the_demo_checkout_page_pays_and_redirects_to_the_statement(world, client):
    guardian = world.user(Role.GUARDIAN)
    client.force_login(guardian)
    child = world.students[0]
    response = client.post(f"/ledger/guardian/{child.pk}/top-up/", {"amount": "88.50"})
    assert response.status_code == 302
    pay_url = response["Location"]
    assert "/ledger/pay/demo/" in pay_url
    assert "¥88.50" in client.get(pay_url).content.decode()
    response = client.post(pay_url)
    assert response["Location"] == f"/ledger/guardian/{child.pk}/"
    client.post(pay_url)  # pressing twice pays once
    assert balance_of(student=child) == Money(8_850)


def test_staff_upload_the_settlement_file_and_see_the_mismatches(world, client, order):
    from django.core.files.uploadedfile import SimpleUploadedFile

    DemoProvider().pay(order)  # paid at the provider, notification lost: a mismatch to list
    client.force_login(world.user(Role.DISTRICT_REGULATOR))
    today = timezone.localdate()
    csv_bytes = client.get(f"/ledger/finance/demo-settlement.csv?day={today}").content
    assert order.out_trade_no in csv_bytes.decode()
    response = client.post(
        "/ledger/finance/reconcile/",
        {"provider": "demo", "day": today.isoformat(), "file": SimpleUploadedFile("s.csv", csv_bytes, "text/csv")},
    )
    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    assert "账上没有" in detail  # the mismatch by its label, never its code
    assert "missing_in_ledger" not in detail
    assert "¥100.00" in detail
    assert "s.csv" in client.get("/ledger/finance/reconcile/").content.decode()
