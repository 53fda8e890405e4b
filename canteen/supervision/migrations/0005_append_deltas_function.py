"""PostgreSQL: `supervision_append_deltas(event_id, topic, rows)`, what the checkout path's
deferred handlers do (claim the event, append its RollupDelta), for a write that happens inside
another domain's single database call (consumption_checkout). The rows are the ones the
handlers computed in Python beforehand (handlers.once(..., deferred=True).prepare), so the
rules stay in Python and this function only stores them under the real event id. A replayed
event (claim already present) appends nothing, as rollups._insert_claimed.

Other databases have no such function; the Python handlers run there.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION supervision_append_deltas(p_event_id bigint, p_topic text, p_rows jsonb, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    -- One statement: the claim, and the rows only if the claim is new. (PL/pgSQL rather than
    -- an SQL function: PostgreSQL 15 plans an SQL function's statements on every call.)
    WITH claimed AS (
        INSERT INTO supervision_processedevent (event_id, topic, processed_at)
        SELECT p_event_id, left(p_topic, 80), p_now WHERE jsonb_array_length(p_rows) > 0
        ON CONFLICT (event_id) DO NOTHING RETURNING event_id)
    INSERT INTO supervision_rollupdelta (event_id, day, campus_id, school_id, district_id, city_id, hour,
        served_at, meals_served, meals_voided, meals_breakfast, meals_lunch, meals_dinner, meal_revenue_fen,
        meal_charges_fen, topups_fen, topups_count)
    SELECT c.event_id, r.day, r.campus_id, r.school_id, r.district_id, r.city_id, r.hour,
        r.served_at, r.meals_served, r.meals_voided, r.meals_breakfast, r.meals_lunch, r.meals_dinner,
        r.meal_revenue_fen, r.meal_charges_fen, r.topups_fen, r.topups_count
      FROM claimed c, jsonb_populate_recordset(NULL::supervision_rollupdelta, p_rows) r;
END
$fn$;
"""

DROP = "DROP FUNCTION IF EXISTS supervision_append_deltas(bigint, text, jsonb, timestamptz);"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("supervision", "0004_rollup_deltas")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
