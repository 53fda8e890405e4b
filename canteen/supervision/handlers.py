"""Subscribers to the other domains' events. They run inside the publisher's transaction
(core.events), so the rollups are exact: they commit or roll back with the fact.

Every handler is tolerant of payload shapes (missing keys are skipped, never raised on: a
supervision bug must not block a meal being served) and idempotent per event id."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, transaction

from canteen.core.events import Event, subscribe

from . import rollups
from .choices import CaseSource, Severity

log = logging.getLogger("canteen.supervision")

SESSION_COLUMNS = {
    "breakfast": "meals_breakfast",
    "lunch": "meals_lunch",
    "dinner": "meals_dinner",
    "supper": "meals_dinner",
}


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _strict() -> bool:
    return bool(getattr(settings, "CANTEEN_SUPERVISION_STRICT", False) or os.environ.get("CANTEEN_SUPERVISION_STRICT"))


def _count(value: Any) -> int:
    """A count that may arrive as a number or as the list of the things counted."""
    return len(value) if isinstance(value, list | tuple) else _int(value)


# topic → the handler's body, for `supervision_rebuild` to replay stored events.
HANDLERS: dict[str, Callable[[Event], None]] = {}


def once(topic: str, *, deferred: bool = False) -> Callable[[Callable[[Event], None]], Callable[[Event], None]]:
    """Subscribe, and apply each event id at most once.

    `deferred`: a topic of the checkout path whose handler only appends a RollupDelta. It runs
    without a savepoint of its own, and the claim goes into the delta's statement: one round
    trip per event instead of four. A Python error before that statement still leaves the meal
    committed and the event unclaimed; a database error has broken the transaction anyway, so it
    propagates."""

    def wrap(handler: Callable[[Event], None]) -> Callable[[Event], None]:
        HANDLERS[topic] = handler

        @functools.wraps(handler)
        def run(event: Event) -> None:
            if not isinstance(event.payload, dict):
                log.warning("supervision: %s #%s has no dict payload", event.topic, event.id)
                return
            if deferred and not rollups.applied_directly_now():
                try:
                    with rollups.claimed_with_delta(event.topic):
                        handler(event)
                except DatabaseError:
                    raise
                except Exception:
                    if _strict():
                        raise
                    log.exception("supervision: handler for %s #%s failed", event.topic, event.id)
                return
            try:
                # A savepoint: if this handler fails, the meal (or delivery, alarm…) still
                # commits, the event stays unclaimed, and `supervision_rebuild` repairs the
                # rollup. Strict mode (tests) raises instead.
                with transaction.atomic():
                    if not rollups.event_claim(event_id=event.id, topic=event.topic):
                        return
                    handler(event)
            except Exception:
                if _strict():
                    raise
                log.exception("supervision: handler for %s #%s failed", event.topic, event.id)

        if deferred:

            def prepare(event: Event) -> list[Any]:
                """The rows this handler would append for `event`, computed before the event is
                stored (its id is then a placeholder): a publisher that writes in one database
                call stores them with `supervision_append_deltas` (migration 0005)."""
                if not isinstance(event.payload, dict):
                    return []
                try:
                    with rollups.collecting() as rows:
                        handler(event)
                except DatabaseError:
                    raise
                except Exception:
                    if _strict():
                        raise
                    # As in `run`: the fact is still written; the rebuild repairs the rollup.
                    log.exception("supervision: handler for %s failed", event.topic)
                    return []
                return rows

            run.prepare = prepare  # type: ignore[attr-defined]

        subscribe(topic)(run)
        return run

    return wrap


def _keys(event: Event) -> rollups.OrgKeys | None:
    keys = rollups.resolve_org(event.payload)
    if keys is None:
        log.warning("supervision: %s #%s names no known campus/district", event.topic, event.id)
    return keys


def _open_case(event: Event, keys: rollups.OrgKeys, **kwargs: Any) -> None:
    from .services import case_open

    case_open(
        actor=None,
        district_id=keys.district_id,
        school_id=None if keys.school_id == rollups.DISTRICT_LEVEL else keys.school_id,
        campus_id=None if keys.campus_id == rollups.DISTRICT_LEVEL else keys.campus_id,
        **kwargs,
    )


# ------------------------------------------------------------------ consumption


@once("consumption.meal_served", deferred=True)
def on_meal_served(event: Event) -> None:
    p = event.payload
    keys = _keys(event)
    if keys is None:
        return
    day = rollups.event_day(p, "served_on", default=event.occurred_at)
    at = rollups.event_time(p, "served_at", "at", default=None) or _served_at(p) or event.occurred_at
    deltas = {"meals_served": 1, "meal_revenue_fen": _int(p.get("amount_fen"))}
    column = SESSION_COLUMNS.get(str(p.get("session_kind") or "").lower())
    if column:
        deltas[column] = 1
    from django.utils import timezone

    # Appended, not added to the campus-day row: see RollupDelta.
    rollups.delta_add(event_id=event.id, day=day, keys=keys, hour=timezone.localtime(at).hour, served_at=at, **deltas)


def _served_at(p: dict[str, Any]) -> Any:
    """The serving time when the event does not carry it (an offline terminal's meal is
    published at sync time, hours later): read from the meal record, one primary-key lookup."""
    if not p.get("record_id"):
        return None
    try:
        from canteen.consumption.models import MealRecord
    except ImportError:
        return None
    try:
        return MealRecord.objects.filter(pk=p["record_id"]).values_list("served_at", flat=True).first()
    except (ValueError, DjangoValidationError):
        return None


@once("consumption.meal_voided", deferred=True)
def on_meal_voided(event: Event) -> None:
    p = event.payload
    keys = _keys(event)
    if keys is None:
        return
    day = rollups.event_day(p, "served_on", default=event.occurred_at)
    deltas = {"meals_voided": 1, "meal_revenue_fen": -_int(p.get("amount_fen"))}
    column = SESSION_COLUMNS.get(str(p.get("session_kind") or "").lower())
    if column:
        deltas[column] = -1
    rollups.delta_add(event_id=event.id, day=day, keys=keys, **deltas)


# ------------------------------------------------------------------ ledger


def _ledger(counter: str, count_column: str | None = None, *, deferred: bool = False) -> Callable[[Event], None]:
    """`deferred`: a topic of the checkout path, appended as a RollupDelta (see rollups)."""

    def apply(event: Event) -> None:
        keys = _keys(event)
        if keys is None:
            return
        day = rollups.event_day(event.payload, "on", default=event.occurred_at)
        deltas = {counter: _int(event.payload.get("amount_fen"))}
        if count_column:
            deltas[count_column] = 1
        if deferred:
            rollups.delta_add(event_id=event.id, day=day, keys=keys, **deltas)
        else:
            rollups.stats_add(day=day, keys=keys, **deltas)

    return apply


once("ledger.topped_up", deferred=True)(_ledger("topups_fen", "topups_count", deferred=True))
once("ledger.meal_charged", deferred=True)(_ledger("meal_charges_fen", deferred=True))
once("ledger.subsidy_granted")(_ledger("subsidy_fen"))
once("ledger.supplier_paid")(_ledger("food_spend_fen"))


# ------------------------------------------------------------------ procurement


def _categories_of_lines(lines: list, accepted_fen: int) -> dict[str, int] | None:
    """Accepted amount per food category, from procurement's delivery lines (price and item
    category are not in the event). The rounding matches procurement's, and any remainder is
    kept uncategorised, so the categories always add up to the accepted amount."""
    from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

    try:
        from canteen.procurement.models import DeliveryLine
    except ImportError:
        return None
    quantities = {}
    for line in lines:
        if isinstance(line, dict) and line.get("line_id"):
            try:
                quantities[str(line["line_id"])] = Decimal(str(line.get("accepted_quantity") or 0))
            except InvalidOperation:
                return None
    if not quantities:
        return None
    out: dict[str, int] = {}
    for row in DeliveryLine.objects.filter(pk__in=list(quantities)).values("pk", "price_fen", "item__category"):
        fen = int((quantities[str(row["pk"])] * row["price_fen"]).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
        out[row["item__category"]] = out.get(row["item__category"], 0) + fen
    remainder = accepted_fen - sum(out.values())
    if remainder:
        out[""] = out.get("", 0) + remainder
    return out


def _spend(event: Event, keys: rollups.OrgKeys, day: Any, amount: int) -> None:
    p = event.payload
    supplier_id = str(p.get("supplier_id") or "")
    if not supplier_id:
        return
    name = str(p.get("supplier_name") or "")
    categories = p.get("categories") or p.get("by_category")
    lines = p.get("lines")
    if (
        not categories
        and isinstance(lines, list)
        and lines
        and all(isinstance(x, dict) and "amount_fen" in x for x in lines)
    ):
        categories = {}
        for line in lines:
            category = str(line.get("category") or "")
            categories[category] = categories.get(category, 0) + _int(line.get("amount_fen"))
    if not categories and isinstance(lines, list) and lines:
        categories = _categories_of_lines(lines, amount)
    if isinstance(categories, dict) and categories:
        for category, fen in categories.items():
            rollups.spend_add(
                day=day,
                keys=keys,
                supplier_id=supplier_id,
                supplier_name=name,
                category=str(category),
                amount_fen=_int(fen),
            )
    elif amount:
        rollups.spend_add(
            day=day,
            keys=keys,
            supplier_id=supplier_id,
            supplier_name=name,
            category=str(p.get("category") or ""),
            amount_fen=amount,
        )


def _trace_complete(p: dict[str, Any]) -> bool:
    """Complete trace data: every accepted batch carries its trace code (issued by the trace
    domain's subscriber to procurement.batch_accepted, which runs before this event) and the
    delivery has a recorded transport track. A payload may also say so itself."""
    if "trace_complete" in p:
        return bool(p["trace_complete"])
    lines = p.get("lines")
    batch_ids = [x.get("batch_id") for x in lines if isinstance(x, dict)] if isinstance(lines, list) else []
    if not batch_ids or not all(batch_ids) or not p.get("delivery_id"):
        return False
    try:
        from canteen.trace import selectors as trace_selectors
        from canteen.trace.models import TraceCode
    except ImportError:
        return False
    coded = TraceCode.objects.filter(batch_id__in=batch_ids).count()
    return coded == len(set(batch_ids)) and bool(trace_selectors.tracks_of_delivery(p["delivery_id"]))


@once("procurement.delivery_accepted")
def on_delivery_accepted(event: Event) -> None:
    p = event.payload
    keys = _keys(event)
    if keys is None:
        return
    day = rollups.event_day(p, "on", "accepted_on", default=event.occurred_at)
    amount = _int(p.get("accepted_fen"))
    traced = _trace_complete(p)
    rollups.stats_add(
        day=day, keys=keys, deliveries_accepted=1, delivery_accepted_fen=amount, deliveries_traced=1 if traced else 0
    )
    _spend(event, keys, day, amount)
    if _count(p.get("rejected_lines")) > 0:
        ref = str(p.get("delivery_id") or p.get("id") or event.id)
        _open_case(
            event,
            keys,
            source=CaseSource.DELIVERY_REJECTED,
            source_ref=ref,
            title=f"配送部分拒收（{_count(p.get('rejected_lines'))} 项）：{p.get('supplier_name') or ''}",
            description=_rejection_text(p),
            severity=Severity.LOW,
        )


@once("procurement.delivery_rejected")
def on_delivery_rejected(event: Event) -> None:
    p = event.payload
    keys = _keys(event)
    if keys is None:
        return
    day = rollups.event_day(p, "on", default=event.occurred_at)
    rollups.stats_add(day=day, keys=keys, deliveries_rejected=1)
    _open_case(
        event,
        keys,
        source=CaseSource.DELIVERY_REJECTED,
        source_ref=str(p.get("delivery_id") or p.get("id") or event.id),
        title=f"配送被拒收：{p.get('supplier_name') or p.get('supplier_id') or ''}".rstrip("："),
        description=_rejection_text(p),
        severity=Severity.MEDIUM,
    )


def _rejection_text(p: dict[str, Any]) -> str:
    lines = p.get("rejected_lines")
    if isinstance(lines, list):
        parts = [f"{x.get('item', '')} {x.get('reason', '')}".strip() for x in lines if isinstance(x, dict)]
        return "；".join(parts)[:1000]
    return str(p.get("reason") or p.get("note") or "")


@once("procurement.batch_accepted")
def on_batch_accepted(event: Event) -> None:
    keys = _keys(event)
    if keys is None:
        return
    rollups.stats_add(
        day=rollups.event_day(event.payload, "on", default=event.occurred_at), keys=keys, batches_accepted=1
    )


def _licence(event: Event, expired: bool) -> None:
    from .models import LicenceWatch

    p = event.payload
    supplier_id = str(p.get("supplier_id") or "")
    ref = str(p.get("licence_id") or p.get("licence_number") or p.get("ref") or f"{supplier_id}:{p.get('kind', '')}")
    expires_on = rollups.event_day(p, "expires_on", "valid_until", default=event.occurred_at)
    keys = rollups.resolve_org(p) if p.get("district_id") or p.get("campus_id") or p.get("school_id") else None
    LicenceWatch.objects.update_or_create(
        ref=ref[:120],
        defaults={
            "supplier_id": supplier_id[:64],
            "supplier_name": str(p.get("supplier_name") or "")[:120],
            "expires_on": expires_on,
            "expired": expired,
            "district_id": keys.district_id if keys else None,
            "city_id": keys.city_id if keys else None,
        },
    )
    if expired:
        if keys is None:
            log.warning("supervision: expired licence %s names no district; no case opened", ref)
            return
        _open_case(
            event,
            keys,
            source=CaseSource.LICENCE_EXPIRED,
            source_ref=ref,
            title=f"供应商证照过期：{p.get('supplier_name') or supplier_id}",
            description=f"{p.get('kind', '')} {ref} → {expires_on}",
            severity=Severity.HIGH,
        )


@once("procurement.licence_expiring")
def on_licence_expiring(event: Event) -> None:
    _licence(event, expired=False)


@once("procurement.licence_expired")
def on_licence_expired(event: Event) -> None:
    _licence(event, expired=True)


# ------------------------------------------------------------------ meals


@once("meals.nutrition_checked")
def on_nutrition_checked(event: Event) -> None:
    p = event.payload
    keys = _keys(event)
    if keys is None:
        return
    day = rollups.event_day(p, "day", default=event.occurred_at)
    passed = bool(p.get("passed"))
    rollups.stats_add(day=day, keys=keys, nutrition_checks=1, nutrition_failed=0 if passed else 1)
    if not passed:
        flags = p.get("flags") or []
        flag_text = "、".join(_flag_text(f) for f in flags)[:1000] if isinstance(flags, list) else str(flags)[:1000]
        # One open case per campus and school week: a regulator reviews a week's menus, and a
        # failing day after day is one problem with recurrences, not five cases.
        year, week, _ = day.isocalendar()
        _open_case(
            event,
            keys,
            source=CaseSource.NUTRITION_FAILED,
            source_ref=f"{keys.campus_id}:{year}-W{week:02d}",
            title=f"菜单营养不达标（{year}年第{week}周）",
            description=f"{day.isoformat()}：{flag_text}",
            severity=Severity.LOW,
        )


def _flag_text(flag: Any) -> str:
    if not isinstance(flag, dict):
        return str(flag)
    bounds = f"{flag.get('low') or ''}–{flag.get('high') or ''}"
    return f"{flag.get('session_kind') or ''} {flag.get('subject') or flag.get('code') or ''} {flag.get('value') or ''}{flag.get('unit') or ''} ({bounds})".strip()


# ------------------------------------------------------------------ kitchen


@once("kitchen.alarm_raised")
def on_alarm_raised(event: Event) -> None:
    from .services import live_add

    p = event.payload
    keys = _keys(event)
    if keys is None:
        return
    at = rollups.event_time(p, "at", default=event.occurred_at)
    from django.utils import timezone

    rollups.stats_add(day=timezone.localdate(at), keys=keys, alarms=1)
    kind = str(p.get("kind") or "alarm")
    label = str(p.get("kind_label") or p.get("label") or ALARM_LABELS.get(kind) or kind.removeprefix("detector:"))
    _open_case(
        event,
        keys,
        source=CaseSource.ALARM,
        source_ref=str(p.get("alarm_id") or event.id),
        title=f"明厨亮灶告警：{label}",
        # Local time, no ids: the case page is read by people, not programs.
        description=f"{label}（{timezone.localtime(at):%Y-%m-%d %H:%M}）",
        severity=Severity.HIGH if p.get("severity") in ("high", "critical") else Severity.MEDIUM,
    )
    live_add(kind="alarm", text_zh=f"告警：{label}", text_en=f"Alarm: {kind}", org=keys.as_fields())


ALARM_LABELS = {
    "after_hours_motion": "非工作时间移动",
    "covered": "镜头遮挡",
    "moved": "镜头移位",
    "dark": "视频中断",
    "detector:no_hat": "未戴厨师帽",
    "detector:no_mask": "未戴口罩",
    "detector:smoking": "吸烟",
    "detector:rodent": "鼠患",
}
RECORD_LABELS = {
    "morning_check": "晨检",
    "food_sample": "留样",
    "sample": "留样",
    "samples": "留样",
    "accompany": "陪餐",
    "disinfection": "消毒",
    "accompanied_meal": "陪餐",
}


def meal_zh(code: str) -> str:
    from canteen.core.i18n import pair_of
    from canteen.meals.choices import SessionKind

    return pair_of(SessionKind(code).label)[0] if code in SessionKind.values else code


@once("kitchen.record_missing")
def on_record_missing(event: Event) -> None:
    p = event.payload
    keys = _keys(event)
    if keys is None:
        return
    day = rollups.event_day(p, "day", default=event.occurred_at)
    kind = str(p.get("kind") or "record")
    meal = str(p.get("meal") or "")
    rollups.stats_add(day=day, keys=keys, records_missing=1)
    label = RECORD_LABELS.get(kind, kind)
    if p.get("repeated") is False:
        return  # a first gap is an alert to the canteen (notify); a repeated one is a case
    _open_case(
        event,
        keys,
        source=CaseSource.RECORD_MISSING,
        source_ref=f"{kind}:{keys.campus_id}:{day.isoformat()}:{meal}",
        # A stored title: the meal's Chinese label, never its code.
        title=f"{label}记录缺失（{day.isoformat()} {meal_zh(meal)}）".replace(" ）", "）"),
        description=str(p.get("note") or ""),
        severity=Severity.MEDIUM,
    )
