#!/usr/bin/env python
"""Online payments: WeChat Pay notifications verified and credited per second, and a day's bill
of 20,000 lines reconciled three ways, with the time.

    .venv/bin/python bench/payments.py [--small] [--notifications 1000] [--bill-lines 20000] [--threads 4]

A scratch PostgreSQL database (bench_payments) migrated by Django, one school's WeChat Pay
merchant, and the local v3 server (canteen.ledger.payments.testing.wechat_server, port 22950)
that the unchanged wechatpayv3 SDK talks to.

1. Orders: N top-up orders created through the SDK (signed request, signed answer verified).
2. Notifications: the server pays each and builds its notification (RSA-SHA256 signed, resource
   AES-256-GCM encrypted); we time wechat_notification_handle on the raw body and headers,
   i.e. clock window + signature verification + decryption + the credit (posting, order update,
   outbox event, evidence row): a) one at a time, b) with T threads, c) every one delivered again
   (the duplicates). Also verification + decryption alone, to show the split.
3. Bill: L paid orders with their top-up postings (written in bulk: the crediting rate is part
   2's; 1% held back as lost notifications, 1% credited but absent from the bill), the
   server's ALL bill downloaded
   through the SDK (gzip, hash checked), parsed and reconciled three ways; times for each step.
The scratch database is dropped at the end. The machine is shared: read figures as indications.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
DB = "bench_payments"
os.environ["CANTEEN_DATABASE_URL"] = f"{SERVER}/{DB}"
os.environ["DJANGO_SETTINGS_MODULE"] = "canteen.settings.test"
os.environ["CANTEEN_PAYMENT_PROVIDERS"] = "wechat"


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def rate(count: int, seconds: float) -> str:
    return f"{count} in {seconds:.2f} s = {count / seconds:,.0f}/s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="200 notifications, a 2,000-line bill")
    parser.add_argument("--notifications", type=int, default=1000)
    parser.add_argument("--bill-lines", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if args.small:
        args.notifications, args.bill_lines = 200, 2_000

    admin_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    admin_sql(f"CREATE DATABASE {DB}")
    keys = tempfile.TemporaryDirectory(prefix="bench-payment-keys-")
    os.environ["CANTEEN_PAYMENT_KEYS_DIR"] = keys.name
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    from canteen.core.money import Money
    from canteen.ledger.models import TopUpOrder
    from canteen.ledger.payments import wechat
    from canteen.ledger.payments.bills import parse_wechat_bill, reconciliation_three_way
    from canteen.ledger.payments.merchants import write_credentials
    from canteen.ledger.payments.models import Merchant
    from canteen.ledger.payments.notifications import wechat_notification_handle
    from canteen.ledger.payments.orders import topup_payment_start
    from canteen.ledger.payments.testing.wechat_server import CST, Order, WeChatPayServer
    from canteen.org.choices import Role
    from canteen.org.tests.factories import make_world

    server = WeChatPayServer(22950).start()
    try:
        settings.CANTEEN_WECHATPAY_BASE_URL = server.base_url
        write_credentials("bench", server.merchant_credentials())
        world = make_world(students_per_campus=3)
        school = world.students[0].campus.school
        merchant = Merchant.objects.create(
            provider="wechat",
            district=school.district,
            school=school,
            mch_id=server.mchid,
            app_id=server.appid,
            credentials_ref="bench",
        )
        guardian = world.user(Role.GUARDIAN)
        child = world.students[0]
        print(f"== 1. {args.notifications} orders created through the SDK")
        started = time.perf_counter()
        orders = [
            topup_payment_start(
                student=child, amount=Money(100 + i % 900), actor=guardian, provider="wechat", trade_type="native"
            )
            for i in range(args.notifications)
        ]
        print("   ", rate(len(orders), time.perf_counter() - started))
        notes = [server.pay(o.out_trade_no) for o in orders]

        print("== 2. notifications: verify (window, RSA-SHA256) + decrypt (AES-GCM) alone")
        started = time.perf_counter()
        for note in notes[:200]:
            wechat.parse_callback(merchant=merchant, raw_body=note.body, headers=note.headers)
        print("   ", rate(min(200, len(notes)), time.perf_counter() - started))

        half = len(notes) // 2
        print("   a) verified and credited, one at a time")
        latencies = []
        started = time.perf_counter()
        for note in notes[:half]:
            t0 = time.perf_counter()
            outcome = wechat_notification_handle(merchant_id=merchant.pk, raw_body=note.body, headers=note.headers)
            latencies.append(time.perf_counter() - t0)
            assert outcome.outcome == "posted", outcome
        print(
            "      ",
            rate(half, time.perf_counter() - started),
            f"(median {statistics.median(latencies) * 1000:.1f} ms)",
        )

        print(f"   b) verified and credited, {args.threads} threads")
        rest = notes[half:]
        outcomes: list[str] = []

        def worker(chunk):
            from django.db import connection as conn

            try:
                for note in chunk:
                    outcomes.append(
                        wechat_notification_handle(
                            merchant_id=merchant.pk, raw_body=note.body, headers=note.headers
                        ).outcome
                    )
            finally:
                conn.close()

        # Each thread its own children's orders? All on one wallet is the worst case (one row lock).
        chunks = [rest[i :: args.threads] for i in range(args.threads)]
        threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print("      ", rate(len(rest), time.perf_counter() - started), "(all on one wallet: one row lock)")
        assert outcomes.count("posted") == len(rest), set(outcomes)

        print("   c) every notification delivered again (duplicates)")
        started = time.perf_counter()
        for note in notes:
            assert (
                wechat_notification_handle(merchant_id=merchant.pk, raw_body=note.body, headers=note.headers).outcome
                == "duplicate"
            )
        print("      ", rate(len(notes), time.perf_counter() - started))

        # Round trips per notification: a figure the machine's load does not move.
        from django.test.utils import CaptureQueriesContext

        extra = topup_payment_start(
            student=child, amount=Money(100), actor=guardian, provider="wechat", trade_type="native"
        )
        note = server.pay(extra.out_trade_no)
        for label in ("posted", "duplicate"):
            with CaptureQueriesContext(connection) as queries:
                wechat_notification_handle(merchant_id=merchant.pk, raw_body=note.body, headers=note.headers)
            print(f"   SQL statements for one {label} notification: {len(queries)}")

        print(f"== 3. a {args.bill_lines:,}-line bill")
        server.orders.clear()  # the day's bill is the bill-sized set below
        # A second school's merchant, so that the orders of part 2 are not in this reconciliation.
        other = world.schools[1]
        merchant = Merchant.objects.create(
            provider="wechat",
            district=other.district,
            school=other,
            mch_id=server.mchid,
            app_id=server.appid,
            credentials_ref="bench",
        )
        day = timezone.localdate()
        students = [s for s in world.students if s.campus.school_id == world.schools[1].pk]
        now = timezone.now()
        created = []
        started = time.perf_counter()
        from canteen.ledger.choices import TopUpOrderStatus

        for i in range(args.bill_lines):
            student = students[i % len(students)]
            created.append(
                TopUpOrder(
                    out_trade_no=f"CTBENCH{len(created):08d}",
                    provider="wechat",
                    student=student,
                    campus_id=student.campus_id,
                    school_id=student.campus.school_id,
                    district_id=student.campus.school.district_id,
                    amount_fen=1_000 + i % 5_000,
                    status=TopUpOrderStatus.CREATED,
                    merchant=merchant,
                    trade_type="native",
                )
            )
        TopUpOrder.objects.bulk_create(created, batch_size=2_000)
        print("    orders inserted:", rate(len(created), time.perf_counter() - started))
        lost = set(range(0, args.bill_lines, 100))  # 1%: paid, notification lost
        phantom = set(range(50, args.bill_lines, 100))  # 1%: credited, not in the bill
        for i, order in enumerate(created):
            if i not in phantom:
                server.orders[order.out_trade_no] = Order(
                    mchid=server.mchid,
                    sub_mchid="",
                    appid=server.appid,
                    out_trade_no=order.out_trade_no,
                    total=order.amount_fen,
                    trade_type="native",
                    notify_url="",
                    description="bench",
                    state="SUCCESS",
                    transaction_id=f"4200{i:018d}",
                    success_time=timezone.localtime(now, CST).replace(microsecond=0),
                )

        # The crediting path's own rate is part 2's; here its rows are written in bulk so that
        # a 20,000-line day can be set up on a loaded machine: what reconciliation reads (the
        # paid order, its top-up posting with the provider's transaction id), not the entries.
        from canteen.ledger.choices import Channel, PostingKind
        from canteen.ledger.models import Posting

        started = time.perf_counter()
        todo = [i for i in range(len(created)) if i not in lost]
        postings = {}
        for i in todo:
            order = created[i]
            postings[i] = Posting(
                kind=PostingKind.TOP_UP,
                idempotency_key=f"wechat:4200{i:018d}",
                on=day,
                amount_fen=order.amount_fen,
                student_id=order.student_id,
                campus_id=order.campus_id,
                school_id=order.school_id,
                district_id=order.district_id,
                channel=Channel.ONLINE,
                reference=f"4200{i:018d}",
            )
        Posting.objects.bulk_create(postings.values(), batch_size=2_000)
        for i in todo:
            order = created[i]
            order.status, order.provider_txn_id, order.posting, order.paid_at = (
                "paid",
                f"4200{i:018d}",
                postings[i],
                now,
            )
        TopUpOrder.objects.bulk_update(
            [created[i] for i in todo], ["status", "provider_txn_id", "posting", "paid_at"], batch_size=2_000
        )
        credited = args.bill_lines - len(lost)
        print(
            "    paid orders and their postings written in bulk:",
            rate(credited, time.perf_counter() - started),
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        started = time.perf_counter()
        text = wechat.trade_bill(merchant=merchant, day=day)
        download = time.perf_counter() - started
        started = time.perf_counter()
        rows = parse_wechat_bill(text)
        parse = time.perf_counter() - started
        started = time.perf_counter()
        rec = reconciliation_three_way(merchant=merchant, day=day, rows=rows, actor=None, file_name="bench")
        match = time.perf_counter() - started
        kinds = {}
        for kind in rec.items.values_list("kind", flat=True):
            kinds[kind] = kinds.get(kind, 0) + 1
        print(f"    bill: {len(text.splitlines()):,} lines, {len(text.encode()) / 1e6:.1f} MB")
        print(f"    download through the SDK (gzip, SHA1 checked): {download:.2f} s")
        print(f"    parse: {parse:.2f} s; reconcile three ways: {match:.2f} s; total {download + parse + match:.2f} s")
        print(f"    rows {rec.rows:,}, matched {rec.matched:,}, mismatches {kinds}")
    finally:
        server.stop()
        from django.db import connections

        connections.close_all()
        admin_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        keys.cleanup()


if __name__ == "__main__":
    main()
