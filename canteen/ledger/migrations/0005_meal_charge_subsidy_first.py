"""PostgreSQL: `ledger_meal_charge` pays a meal from the pupil's restricted subsidy balance
first (the allowance account, code "allowance:<student id>", issue 22), the wallet the rest, as
services.meal_charge's Python path does; tests/test_meal_charge_paths.py holds the two together.

What changes from migration 0003:
- after the posting row, the open allowance with a positive balance is locked (FOR UPDATE) and
  takes LEAST(balance, amount): its entry and UPDATE are written; the wallet entry is the rest,
  none when the subsidy paid it all (an entry is never zero);
- `ledger_wallet_debit` is asked for the rest only, and the guardian's daily limit counts the
  family money only; with nothing left it still runs, for its guards (a closed wallet, a closed
  period) and to report the balance;
- a refusal also gives the allowance its share back;
- a new last OUT column, subsidy_fen: what the subsidy paid (with p_debit false the caller asks
  `ledger_wallet_debit` for the rest itself).

consumption_checkout calls this function with `SELECT * INTO record`, so the extra column needs
no change there. The function's result type changes, hence DROP then CREATE.
"""

import importlib

from django.db import migrations

OLD = importlib.import_module("canteen.ledger.migrations.0003_meal_charge_function")

DROP_CHARGE = (
    "DROP FUNCTION IF EXISTS ledger_meal_charge(uuid, text, date, bigint, bigint, text, bigint, text, uuid, uuid,"
    " uuid, uuid, text, uuid, uuid, timestamptz, boolean);"
)

CREATE = r"""
CREATE FUNCTION ledger_meal_charge(
    p_posting_id uuid, p_key text, p_on date, p_amount bigint, p_spend bigint, p_memo text,
    p_actor_id bigint, p_actor_label text, p_student_id uuid, p_campus_id uuid, p_school_id uuid,
    p_district_id uuid, p_reference text, p_wallet_id uuid, p_revenue_id uuid, p_now timestamptz,
    p_debit boolean,
    OUT outcome text, OUT posting_id uuid, OUT balance_fen bigint, OUT alert_fen bigint,
    OUT event_id bigint, OUT low_event_id bigint, OUT floor_fen bigint, OUT daily_limit_fen bigint,
    OUT spent_today_fen bigint, OUT closed_through date, OUT subsidy_fen bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_allowance_id uuid;
    v_allowance_fen bigint;
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
    -- services._allowance_take: the restricted subsidy pays first.
    SELECT a.id, a.balance_fen INTO v_allowance_id, v_allowance_fen FROM ledger_account a
     WHERE a.code = 'allowance:' || p_student_id::text AND a.status = 'open' AND a.balance_fen > 0
       FOR UPDATE;
    -- (LEAST ignores NULLs: without an allowance it would return the whole amount.)
    subsidy_fen := CASE WHEN v_allowance_id IS NULL THEN 0 ELSE LEAST(v_allowance_fen, p_amount) END;
    -- Entries in services.meal_charge's leg order: wallet (when it pays), revenue, allowance.
    IF p_amount > subsidy_fen THEN
        INSERT INTO ledger_entry (posting_id, account_id, amount_fen, "on")
        VALUES (p_posting_id, p_wallet_id, subsidy_fen - p_amount, p_on);
    END IF;
    INSERT INTO ledger_entry (posting_id, account_id, amount_fen, "on")
    VALUES (p_posting_id, p_revenue_id, p_amount, p_on);
    IF subsidy_fen > 0 THEN
        INSERT INTO ledger_entry (posting_id, account_id, amount_fen, "on")
        VALUES (p_posting_id, v_allowance_id, -subsidy_fen, p_on);
        UPDATE ledger_account a SET balance_fen = a.balance_fen - subsidy_fen WHERE a.id = v_allowance_id;
    END IF;
    INSERT INTO core_outboxevent (topic, payload, occurred_at)
    VALUES ('ledger.meal_charged', jsonb_build_object(
        'posting_id', p_posting_id::text, 'campus_id', p_campus_id::text, 'school_id', p_school_id::text,
        'district_id', p_district_id::text, 'amount_fen', p_amount, 'on', to_char(p_on, 'YYYY-MM-DD'),
        'student_id', p_student_id::text), p_now)
    RETURNING id INTO event_id;
    IF NOT p_debit THEN
        -- The caller runs the event's subscribers, then ledger_wallet_debit for the rest.
        outcome := 'inserted';
        RETURN;
    END IF;
    SELECT d.outcome, d.balance_fen, d.alert_fen, d.low_event_id, d.floor_fen, d.daily_limit_fen,
           d.spent_today_fen, d.closed_through
      INTO outcome, balance_fen, alert_fen, low_event_id, floor_fen, daily_limit_fen, spent_today_fen,
           closed_through
      FROM ledger_wallet_debit(p_wallet_id, p_campus_id, p_on, p_amount - subsidy_fen,
                               GREATEST(p_spend - subsidy_fen, 0), p_student_id, p_posting_id, p_now) d;
    IF outcome <> 'charged' THEN
        -- Refused: take back what this call wrote (rows nobody else has seen), the subsidy's share too.
        IF subsidy_fen > 0 THEN
            UPDATE ledger_account a SET balance_fen = a.balance_fen + subsidy_fen WHERE a.id = v_allowance_id;
        END IF;
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
        schema_editor.execute(DROP_CHARGE)
        schema_editor.execute(CREATE)


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_CHARGE)
        schema_editor.execute(OLD.CREATE)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_subsidy_programmes_and_allowances")]

    operations = [migrations.RunPython(create, restore, elidable=False)]
