"""PostgreSQL: a meal charge in one call (services.meal_charge), instead of five round trips
(BEGIN, posting + entries, outbox event, guarded UPDATE, COMMIT). Called in autocommit, the call
is the whole transaction.

`ledger_meal_charge(...)` writes in the order services._post does (see the services docstring):
the posting first (the unique (kind, idempotency_key) index makes a concurrent duplicate wait,
then replay), its two entries, the `ledger.meal_charged` outbox row, then `ledger_wallet_debit`:
the guarded wallet UPDATE with the closed-period check folded in, last, so that the wallet row is
locked only for that UPDATE and the COMMIT. A refusal deletes the rows this call inserted (rows
nobody else has seen; measured no slower than an EXCEPTION block, which would open a
subtransaction on every call: docs/benchmarks.md) and says why, with the figures services._refuse
reports. The campus revenue is a house account without a cached balance (Account.tracks_balance):
it takes an entry, no UPDATE.

With p_debit false it stops after the outbox row ('inserted'): a caller that owns its transaction
runs the event's in-process subscribers, then calls `ledger_wallet_debit` itself, so the wallet
is not locked while the subscribers work (the order _post has).

Outcomes: charged, inserted, replay (posting_id is the existing posting), period_closed,
account_closed, insufficient_funds, daily_limit, refused (the guard failed three times although
each re-read said it passes: concurrent writers; services reports insufficient funds as _apply).

Other databases have no such functions; services keeps the Python path for them.
"""

from django.db import migrations

DROP = (
    "DROP FUNCTION IF EXISTS ledger_meal_charge(uuid, text, date, bigint, bigint, text, bigint, text, uuid, uuid,"
    " uuid, uuid, text, uuid, uuid, timestamptz, boolean);"
    " DROP FUNCTION IF EXISTS ledger_wallet_debit(uuid, uuid, date, bigint, bigint, uuid, uuid, timestamptz);"
)

CREATE = r"""
CREATE OR REPLACE FUNCTION ledger_wallet_debit(
    p_wallet_id uuid, p_campus_id uuid, p_on date, p_amount bigint, p_spend bigint, p_student_id uuid,
    p_posting_id uuid, p_now timestamptz,
    OUT outcome text, OUT balance_fen bigint, OUT alert_fen bigint, OUT low_event_id bigint,
    OUT floor_fen bigint, OUT daily_limit_fen bigint, OUT spent_today_fen bigint, OUT closed_through date)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_status text;
    v_spent_on date;
BEGIN
    FOR attempt IN 1..3 LOOP
        -- services._apply(guard=True, spend_fen=p_spend) with the closed-period check folded in.
        UPDATE ledger_account a SET
            balance_fen = a.balance_fen - p_amount,
            spent_today_fen = CASE WHEN p_spend = 0 THEN a.spent_today_fen
                                   WHEN a.spent_on = p_on THEN a.spent_today_fen + p_spend
                                   ELSE p_spend END,
            spent_on = CASE WHEN p_spend = 0 THEN a.spent_on ELSE p_on END
         WHERE a.id = p_wallet_id
           AND a.status = 'open'
           AND (a.floor_fen IS NULL OR a.balance_fen - p_amount >= a.floor_fen)
           AND (p_spend = 0 OR a.daily_limit_fen IS NULL
                OR (CASE WHEN a.spent_on = p_on THEN a.spent_today_fen ELSE 0 END) + p_spend <= a.daily_limit_fen)
           AND NOT EXISTS (SELECT 1 FROM ledger_book b WHERE b.campus_id = p_campus_id AND b.closed_through >= p_on)
        RETURNING a.balance_fen, a.low_balance_alert_fen INTO balance_fen, alert_fen;
        IF FOUND THEN
            -- The guardian's alert fires once, when this debit crosses the threshold.
            IF alert_fen IS NOT NULL AND balance_fen < alert_fen AND alert_fen <= balance_fen + p_amount THEN
                INSERT INTO core_outboxevent (topic, payload, occurred_at)
                VALUES ('ledger.low_balance', jsonb_build_object(
                    'account_id', p_wallet_id::text, 'student_id', p_student_id::text,
                    'balance_fen', balance_fen, 'alert_fen', alert_fen, 'posting_id', p_posting_id::text), p_now)
                RETURNING id INTO low_event_id;
            END IF;
            outcome := 'charged';
            RETURN;
        END IF;
        -- Why the guard failed, in services._check_open then services._refuse order.
        SELECT b.closed_through INTO closed_through FROM ledger_book b WHERE b.campus_id = p_campus_id;
        IF closed_through IS NOT NULL AND p_on <= closed_through THEN
            outcome := 'period_closed';
            RETURN;
        END IF;
        closed_through := NULL;
        SELECT a.status, a.balance_fen, a.floor_fen, a.daily_limit_fen, a.spent_on, a.spent_today_fen
          INTO v_status, balance_fen, floor_fen, daily_limit_fen, v_spent_on, spent_today_fen
          FROM ledger_account a WHERE a.id = p_wallet_id;
        alert_fen := NULL;
        IF v_status IS DISTINCT FROM 'open' THEN
            outcome := 'account_closed';
            RETURN;
        END IF;
        IF floor_fen IS NOT NULL AND balance_fen - p_amount < floor_fen THEN
            outcome := 'insufficient_funds';
            RETURN;
        END IF;
        spent_today_fen := CASE WHEN v_spent_on = p_on THEN spent_today_fen ELSE 0 END;
        IF p_spend > 0 AND daily_limit_fen IS NOT NULL AND spent_today_fen + p_spend > daily_limit_fen THEN
            outcome := 'daily_limit';
            RETURN;
        END IF;
        -- It passes now: a concurrent top-up committed after our UPDATE looked. Try again.
        balance_fen := NULL; floor_fen := NULL; daily_limit_fen := NULL; spent_today_fen := NULL;
    END LOOP;
    outcome := 'refused';
END
$fn$;

CREATE OR REPLACE FUNCTION ledger_meal_charge(
    p_posting_id uuid, p_key text, p_on date, p_amount bigint, p_spend bigint, p_memo text,
    p_actor_id bigint, p_actor_label text, p_student_id uuid, p_campus_id uuid, p_school_id uuid,
    p_district_id uuid, p_reference text, p_wallet_id uuid, p_revenue_id uuid, p_now timestamptz,
    p_debit boolean,
    OUT outcome text, OUT posting_id uuid, OUT balance_fen bigint, OUT alert_fen bigint,
    OUT event_id bigint, OUT low_event_id bigint, OUT floor_fen bigint, OUT daily_limit_fen bigint,
    OUT spent_today_fen bigint, OUT closed_through date)
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO ledger_posting (id, created_at, updated_at, kind, idempotency_key, "on", amount_fen, memo,
        actor_label, channel, reference, counterparty_id, actor_id, campus_id, district_id, reverses_id,
        school_id, student_id)
    VALUES (p_posting_id, p_now, p_now, 'meal_charge', p_key, p_on, p_amount, p_memo,
        p_actor_label, 'terminal', p_reference, NULL, p_actor_id, p_campus_id, p_district_id, NULL,
        p_school_id, p_student_id)
    ON CONFLICT (kind, idempotency_key) DO NOTHING;
    IF NOT FOUND THEN
        -- The key is taken (by a committed posting: a concurrent one was waited for above).
        SELECT p.id INTO posting_id FROM ledger_posting p
         WHERE p.kind = 'meal_charge' AND p.idempotency_key = p_key;
        outcome := 'replay';
        RETURN;
    END IF;
    posting_id := p_posting_id;
    INSERT INTO ledger_entry (posting_id, account_id, amount_fen, "on")
    VALUES (p_posting_id, p_wallet_id, -p_amount, p_on), (p_posting_id, p_revenue_id, p_amount, p_on);
    INSERT INTO core_outboxevent (topic, payload, occurred_at)
    VALUES ('ledger.meal_charged', jsonb_build_object(
        'posting_id', p_posting_id::text, 'campus_id', p_campus_id::text, 'school_id', p_school_id::text,
        'district_id', p_district_id::text, 'amount_fen', p_amount, 'on', to_char(p_on, 'YYYY-MM-DD'),
        'student_id', p_student_id::text), p_now)
    RETURNING id INTO event_id;
    IF NOT p_debit THEN
        -- The caller runs the event's subscribers, then ledger_wallet_debit, in its transaction.
        outcome := 'inserted';
        RETURN;
    END IF;
    SELECT d.outcome, d.balance_fen, d.alert_fen, d.low_event_id, d.floor_fen, d.daily_limit_fen,
           d.spent_today_fen, d.closed_through
      INTO outcome, balance_fen, alert_fen, low_event_id, floor_fen, daily_limit_fen, spent_today_fen,
           closed_through
      FROM ledger_wallet_debit(p_wallet_id, p_campus_id, p_on, p_amount, p_spend, p_student_id, p_posting_id,
                               p_now) d;
    IF outcome <> 'charged' THEN
        -- Refused: take back what this call wrote (rows nobody else has seen).
        DELETE FROM ledger_entry e WHERE e.posting_id = p_posting_id;
        DELETE FROM core_outboxevent o WHERE o.id = event_id;
        DELETE FROM ledger_posting p WHERE p.id = p_posting_id;
        posting_id := NULL;
        event_id := NULL;
    END IF;
END
$fn$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_fewer_posting_indexes"),
        ("core", "0003_idempotency_json_encoder"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
