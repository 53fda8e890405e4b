"""PostgreSQL: a whole checkout in one call (services._checkout_in_one_call), instead of eleven
round trips (BEGIN, lock and read, the charge, its rollup delta, the record, the event, its
rollup delta, COMMIT...). Called in autocommit, the call is the whole transaction.

`consumption_checkout(...)` does what services.checkout_record's Python path does, in the same
order, with the rows that path would write built by Python beforehand (p_record, p_audit,
p_event, the rollup deltas): the rules stay in Python, the function decides only what needs the
lock.

1. lock the student (the same advisory key as the Python path);
2. replay: the key has a record → 'replay' with its id;
3. the session's servings: at the limit → 'already_served' with the first serving's time and
   window;
4. the charge: `ledger_meal_charge` (ledger's own function, its refusals returned, not raised:
   'insufficient_funds', 'daily_limit', 'period_closed', 'account_closed', 'refused'); a wallet
   not known yet → 'no_wallet', and a charge of this key without its record → 'ledger_replay'
   (for both the caller takes the Python path: it opens the wallet, checks the posting);
5. the record (serving number, posting, balance after filled in), the audit row if one is
   given, the `consumption.meal_served` event, and the rollup deltas of both events →
   'served'.

A refused charge has taken back its own rows (ledger_meal_charge), and nothing else was
written: a refusal stores nothing, as in the Python path.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION consumption_checkout(
    p_record jsonb, p_lock bigint, p_max_servings integer, p_audit jsonb, p_event jsonb,
    p_served_deltas jsonb, p_charged_deltas jsonb,
    p_posting_id uuid, p_ledger_key text, p_memo text, p_actor_id bigint, p_actor_label text,
    p_campus_id uuid, p_school_id uuid, p_district_id uuid, p_wallet_id uuid, p_wallet_code text,
    p_revenue_id uuid, p_now timestamptz,
    OUT outcome text, OUT record_id uuid, OUT serving_no integer, OUT posting_id uuid,
    OUT balance_fen bigint, OUT first_served_at timestamptz, OUT first_window text,
    OUT floor_fen bigint, OUT daily_limit_fen bigint, OUT spent_today_fen bigint, OUT closed_through date,
    OUT wallet_id uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_student uuid := (p_record->>'student_id')::uuid;
    v_on date := (p_record->>'served_on')::date;
    v_kind text := p_record->>'session_kind';
    v_amount bigint := (p_record->>'price_fen')::bigint;
    v_served integer;
    v_charge record;
    v_event_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    -- This key's record, and the student's servings of the session, in one read.
    SELECT (array_agg(r.id) FILTER (WHERE r.idempotency_key = p_record->>'idempotency_key'))[1],
           count(*) FILTER (WHERE r.status = 'served' AND r.student_id = v_student AND r.served_on = v_on
                            AND r.session_kind = v_kind),
           coalesce(max(r.serving_no) FILTER (WHERE r.student_id = v_student AND r.served_on = v_on
                                              AND r.session_kind = v_kind), 0)
      INTO record_id, v_served, serving_no
      FROM consumption_mealrecord r
     WHERE r.idempotency_key = p_record->>'idempotency_key'
        OR (r.student_id = v_student AND r.served_on = v_on AND r.session_kind = v_kind);
    IF record_id IS NOT NULL THEN
        outcome := 'replay';
        serving_no := NULL;
        RETURN;
    END IF;
    IF v_served >= p_max_servings THEN
        SELECT r.served_at, w.name INTO first_served_at, first_window
          FROM consumption_mealrecord r LEFT JOIN org_servingwindow w ON w.id = r.window_id
         WHERE r.student_id = v_student AND r.served_on = v_on AND r.session_kind = v_kind AND r.status = 'served'
         ORDER BY r.served_at LIMIT 1;
        outcome := 'already_served';
        serving_no := NULL;
        RETURN;
    END IF;
    serving_no := serving_no + 1;

    wallet_id := p_wallet_id;
    IF wallet_id IS NULL THEN
        SELECT a.id INTO wallet_id FROM ledger_account a WHERE a.code = p_wallet_code;
        IF NOT FOUND THEN
            outcome := 'no_wallet';
            RETURN;
        END IF;
    END IF;
    SELECT * INTO v_charge FROM ledger_meal_charge(p_posting_id, p_ledger_key, v_on, v_amount, v_amount, p_memo,
        p_actor_id, p_actor_label, v_student, p_campus_id, p_school_id, p_district_id, p_record->>'id',
        wallet_id, p_revenue_id, p_now, true);
    IF v_charge.outcome = 'replay' THEN
        -- The charge of this key exists without its record: rare, and the Python path checks
        -- that the posting is this student's before it uses it. Nothing was written here.
        outcome := 'ledger_replay';
        serving_no := NULL;
        RETURN;
    ELSIF v_charge.outcome <> 'charged' THEN
        outcome := v_charge.outcome;
        balance_fen := v_charge.balance_fen;
        floor_fen := v_charge.floor_fen;
        daily_limit_fen := v_charge.daily_limit_fen;
        spent_today_fen := v_charge.spent_today_fen;
        closed_through := v_charge.closed_through;
        serving_no := NULL;
        RETURN;
    ELSE
        posting_id := v_charge.posting_id;
        balance_fen := v_charge.balance_fen;
        PERFORM supervision_append_deltas(v_charge.event_id, 'ledger.meal_charged', p_charged_deltas, p_now);
    END IF;

    INSERT INTO consumption_mealrecord
    SELECT * FROM jsonb_populate_record(NULL::consumption_mealrecord, p_record || jsonb_build_object(
        'serving_no', serving_no, 'posting_id', posting_id::text, 'balance_after_fen', balance_fen));
    record_id := (p_record->>'id')::uuid;
    IF p_audit IS NOT NULL THEN
        INSERT INTO core_auditevent (at, actor_label, action, target_type, target_id, target_label, before, after,
            request_id, district_id, school_id, actor_id)
        SELECT a.at, a.actor_label, a.action, a.target_type, a.target_id, a.target_label, a.before,
               jsonb_set(a.after, '{posting}', to_jsonb(posting_id::text)), a.request_id, a.district_id,
               a.school_id, a.actor_id
          FROM jsonb_populate_record(NULL::core_auditevent, p_audit) a;
    END IF;
    INSERT INTO core_outboxevent (topic, payload, occurred_at)
    VALUES ('consumption.meal_served', p_event, p_now) RETURNING id INTO v_event_id;
    PERFORM supervision_append_deltas(v_event_id, 'consumption.meal_served', p_served_deltas, p_now);
    outcome := 'served';
END
$fn$;
"""

DROP = (
    "DROP FUNCTION IF EXISTS consumption_checkout(jsonb, bigint, integer, jsonb, jsonb, jsonb, jsonb, uuid, text,"
    " text, bigint, text, uuid, uuid, uuid, uuid, text, uuid, timestamptz);"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("consumption", "0001_terminals_and_meal_records"),
        ("ledger", "0003_meal_charge_function"),
        ("supervision", "0005_append_deltas_function"),
        ("core", "0003_idempotency_json_encoder"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
