"""Writes of the notification service.

The path of a notice: a domain event is stored in the outbox with the fact (core.events); the
worker reads the outbox (`outbox_consume`, never in the fact's transaction, so a checkout pays
nothing for its guardian's message), runs the rules of the event's topic, and each rule calls
`notice_send`, which writes a message (the inbox) and one delivery per outside channel. Then
`deliveries_send` claims due deliveries, sends them outside any transaction, and records the
outcome: sent (with the provider's receipt), retry with backoff, or dead-lettered."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import ValidationFailed

from . import templates_text
from .channels import CHANNELS, Failed, Outcome, Retry, Sent
from .choices import URGENT_KINDS, Channel, DeliveryStatus, Kind
from .models import Address, Delivery, Message, OutboxCursor, Preference
from .recipients import Recipient

log = logging.getLogger("canteen.notify")

OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRY, DeliveryStatus.HELD)


def _max_attempts() -> int:
    return int(getattr(settings, "CANTEEN_NOTIFY_MAX_ATTEMPTS", 6))


def _backoff(attempts: int, hint: float | None) -> timedelta:
    """Exponential from 30 s, capped at an hour, with jitter so a recovered provider is not hit
    by every held message at once; a provider's own hint (rate limits) wins when longer."""
    base = float(getattr(settings, "CANTEEN_NOTIFY_BACKOFF_SECONDS", 30))
    seconds = min(base * (2 ** max(0, attempts - 1)), 3600) * random.uniform(0.8, 1.2)  # noqa: S311
    return timedelta(seconds=max(seconds, hint or 0))


# ------------------------------------------------------------------ preferences and quiet hours


def _in_quiet(pref: Preference | None, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in, or None."""
    if pref is None or pref.quiet_start is None or pref.quiet_end is None or pref.quiet_start == pref.quiet_end:
        return None
    local = timezone.localtime(now)
    t = local.time()
    start, end = pref.quiet_start, pref.quiet_end
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(end_day, end))


def _channels_for(kind: str, recipient: Recipient, pref: Preference | None) -> list[str]:
    if recipient.group is not None:
        return [Channel.WECOM]
    chosen = (pref.channels or {}).get(kind) if pref is not None else None
    if chosen is not None:
        return [c for c in chosen if c in CHANNELS and c != Channel.WECOM]
    t = templates_text.TEMPLATES[kind]
    # A WeCom robot speaks to a group, never to one person: groups are recipients of their own.
    return [c for c in (t.guardian_channels if recipient.is_guardian else t.staff_channels) if c != Channel.WECOM]


def _addresses(recipients: Sequence[Recipient]) -> dict[str, dict[str, list[str]]]:
    """Bound addresses (openid, e-mail) of the recipients, in one query."""
    users = [r.user.pk for r in recipients if r.user is not None]
    guardians = [r.guardian.pk for r in recipients if r.guardian is not None]
    found: dict[str, dict[str, list[str]]] = {}
    if not users and not guardians:
        return found
    for a in Address.objects.filter(Q(user_id__in=users) | Q(guardian_id__in=guardians)).order_by("-pk"):
        keys = []
        if a.guardian_id:
            keys.append(f"guardian:{a.guardian_id}")
        if a.user_id:
            keys.append(f"user:{a.user_id}")
        for key in keys:
            found.setdefault(key, {}).setdefault(a.channel, []).append(a.address)
    # The openid a guardian bound through WeChat's web authorization (ledger.payments.oauth) to
    # the Official Account that sends the messages.
    appid = getattr(settings, "CANTEEN_NOTIFY_WECHAT_APPID", "")
    account_of = {
        r.guardian.user_id: r.guardian.pk for r in recipients if r.guardian is not None and r.guardian.user_id
    }
    bound_users = set(users) | set(account_of)
    if appid and bound_users:
        from canteen.ledger.payments.models import GuardianWeChatBinding

        for user_id, openid in GuardianWeChatBinding.objects.filter(user_id__in=bound_users, app_id=appid).values_list(
            "user_id", "openid"
        ):
            keys = [f"user:{user_id}"] + ([f"guardian:{account_of[user_id]}"] if user_id in account_of else [])
            for key in keys:
                found.setdefault(key, {}).setdefault("wechat", []).append(openid)
    # A guardian's own account may hold the binding too.
    for r in recipients:
        if r.guardian is not None and r.user is not None:
            own = found.get(f"user:{r.user.pk}", {})
            for channel, values in own.items():
                found.setdefault(r.key, {}).setdefault(channel, []).extend(values)
    return found


# ------------------------------------------------------------------ sending a notice


@dataclass
class Notice:
    """One notice of a kind to its recipients (see notices_send)."""

    kind: str
    recipients: Iterable[Recipient]
    context: dict[str, Any]
    dedupe_key: str
    link: str = ""
    org: dict[str, Any] | None = None
    event_at: datetime | None = None


def notice_send(
    *,
    kind: str,
    recipients: Iterable[Recipient],
    context: dict[str, Any],
    dedupe_key: str,
    link: str = "",
    org: dict[str, Any] | None = None,
    event_at: datetime | None = None,
    now: datetime | None = None,
) -> list[Message]:
    """Make the messages of one notice (one per recipient) and their deliveries. Idempotent:
    the same dedupe key and recipient make one message and one delivery per channel, however
    often the event is replayed. Writes rows only; nothing is sent here."""
    return notices_send(
        notices=[Notice(kind, recipients, context, dedupe_key, link, org, event_at)],
        now=now,
    )


def notices_send(*, notices: Sequence[Notice], now: datetime | None = None) -> list[Message]:
    """notice_send for many notices in a few statements (a lunch hour's per-meal messages are
    read from the outbox hundreds at a time)."""
    now = now or timezone.now()
    for n in notices:
        if n.kind not in Kind.values:
            raise ValidationFailed(details={"kind": n.kind})
    planned = [(n, {r.key: r for r in n.recipients}) for n in notices]
    every = {key: r for _n, found in planned for key, r in found.items()}
    if not every:
        return []
    prefs = {p.recipient_key: p for p in Preference.objects.filter(recipient_key__in=list(every))}
    rows: list[Message] = []
    keep: list[tuple[Notice, dict[str, Recipient], dict[str, Any]]] = []
    for n, found in planned:
        if n.kind == Kind.MEAL_CHARGED:  # opt-in: only those who asked for it
            found = {k: r for k, r in found.items() if prefs.get(k) and prefs[k].meal_charged}
        if not found:
            continue
        org = {k: (str(v) if v else None) for k, v in (n.org or {}).items()}
        org_fields = {f"{k}_id": org.get(k) for k in ("district", "school", "campus")}
        keep.append((n, found, org_fields))
        text = templates_text.render(n.kind, n.context)
        for key, r in found.items():
            rows.append(
                Message(
                    kind=n.kind,
                    dedupe_key=n.dedupe_key[:160],
                    recipient_key=key,
                    user=r.user,
                    guardian=r.guardian,
                    link=n.link[:300],
                    context={**n.context, "_lang": prefs[key].language} if key in prefs else n.context,
                    created_at=now,
                    **text,
                    **org_fields,
                )
            )
    if not rows:
        return []
    Message.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    messages = {
        (m.dedupe_key, m.recipient_key): m
        for m in Message.objects.filter(
            dedupe_key__in={n.dedupe_key[:160] for n, _f, _o in keep}, recipient_key__in={m.recipient_key for m in rows}
        )
    }
    addresses = _addresses([r for _n, found, _o in keep for r in found.values()])
    status_of = {name: channel.configured() for name, channel in CHANNELS.items()}
    deliveries = []
    for n, found, org_fields in keep:
        for key, r in found.items():
            message = messages.get((n.dedupe_key[:160], key))
            if message is None:
                continue
            pref = prefs.get(key)
            held_until = None if n.kind in URGENT_KINDS else _in_quiet(pref, now)
            for name in _channels_for(n.kind, r, pref):
                channel = CHANNELS[name]
                on, why = status_of[name]
                address = channel.address(r, addresses.get(key, {})) if on else ""
                status = DeliveryStatus.HELD if held_until else DeliveryStatus.PENDING
                error = ""
                if not on:
                    status, error = DeliveryStatus.SKIPPED, f"channel off: {why}"
                elif not address:
                    status, error = DeliveryStatus.SKIPPED, "no address for this recipient"
                deliveries.append(
                    Delivery(
                        message=message,
                        dedupe_key=message.dedupe_key,
                        recipient_key=key,
                        channel=name,
                        address=address[:300],
                        status=status,
                        next_attempt_at=held_until or now,
                        event_at=n.event_at or now,
                        last_error=error[:300],
                        **org_fields,
                    )
                )
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=1000)
    return list(messages.values())


# ------------------------------------------------------------------ the outbox consumer

# Rules registered by topic (rules.py); each takes an Event.
_rules: dict[str, list[Any]] = {}


def rule(topic: str):
    def register(func):
        if func not in _rules.setdefault(topic, []):
            _rules[topic].append(func)
        return func

    return register


def rules_of(topic: str) -> list[Any]:
    return list(_rules.get(topic, []))


# Rules that take every event of their topic read in one pass (hot topics: ledger.meal_charged).
_batch_rules: dict[str, Any] = {}


def batch_rule(topic: str):
    def register(func):
        _batch_rules[topic] = func
        return func

    return register


GAP_KEEP = timedelta(minutes=10)
MAX_GAP = 1000
FIRST_RUN_LOOKBACK = timedelta(hours=1)


def outbox_consume(*, limit: int = 2000, now: datetime | None = None) -> int:
    """Run the rules of the outbox events written since the last run. Outbox ids are taken at
    insert but become visible at commit, so a lower id can appear after a higher one: the
    cursor moves past such gaps and keeps them aside for ten minutes, to pick them up when
    (if) they commit. A rolled-back transaction leaves a gap that simply expires."""
    from canteen.core.events import Event
    from canteen.core.models import OutboxEvent

    now = now or timezone.now()
    with transaction.atomic():
        cursor = OutboxCursor.objects.select_for_update().filter(name="notify").first()
        if cursor is None:
            # A new installation starts with the last hour's events, not the whole history.
            first = (
                OutboxEvent.objects.filter(occurred_at__gte=now - FIRST_RUN_LOOKBACK)
                .order_by("id")
                .values_list("id", flat=True)
                .first()
            )
            start = (
                first - 1
                if first is not None
                else (OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0)
            )
            cursor, _ = OutboxCursor.objects.get_or_create(name="notify", defaults={"last_id": start})
            cursor = OutboxCursor.objects.select_for_update().get(name="notify")
        gaps: dict[str, str] = dict(cursor.gaps or {})
        rows = list(
            OutboxEvent.objects.filter(id__gt=cursor.last_id)
            .order_by("id")
            .values_list("id", "topic", "payload", "occurred_at")[:limit]
        )
        late = []
        if gaps:
            late = list(
                OutboxEvent.objects.filter(id__in=[int(g) for g in gaps]).values_list(
                    "id", "topic", "payload", "occurred_at"
                )
            )
            for row in late:
                gaps.pop(str(row[0]), None)
        expected = cursor.last_id + 1
        for row in rows:
            # A jump of the sequence (a cache, a restore) is not a set of open transactions.
            if row[0] - expected <= MAX_GAP:
                for missing in range(expected, row[0]):
                    if len(gaps) < 5000:
                        gaps[str(missing)] = now.isoformat()
            expected = row[0] + 1
        gaps = {k: v for k, v in gaps.items() if datetime.fromisoformat(v) > now - GAP_KEEP}
        ran = 0
        batches: dict[str, list[Event]] = {}
        for event_id, topic, payload, occurred_at in [*late, *rows]:
            if topic in _batch_rules:
                batches.setdefault(topic, []).append(Event(event_id, topic, payload, occurred_at))
        for topic, events in batches.items():
            try:
                with transaction.atomic():
                    _batch_rules[topic](events)
                ran += len(events)
            except Exception:
                log.exception("notify batch rule for %s failed on %d events; one by one", topic, len(events))
                for event in events:
                    try:
                        with transaction.atomic():
                            _batch_rules[topic]([event])
                    except Exception:
                        log.exception("notify rule for %s failed on event %s", topic, event.id)
        for event_id, topic, payload, occurred_at in [*late, *rows]:
            handlers = _rules.get(topic)
            if not handlers:
                continue
            event = Event(id=event_id, topic=topic, payload=payload, occurred_at=occurred_at)
            for handler in handlers:
                try:
                    with transaction.atomic():
                        handler(event)
                    ran += 1
                except Exception:  # one bad event must not stop the others; it is logged
                    log.exception("notify rule %s failed on event %s", handler.__name__, event_id)
        if rows:
            cursor.last_id = rows[-1][0]
        cursor.gaps = gaps
        cursor.save()
    return ran


# ------------------------------------------------------------------ delivering


def _claim(limit: int, now: datetime) -> list[Delivery]:
    with transaction.atomic():
        due = (
            Delivery.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("next_attempt_at", "id")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(claimed_until=now + timedelta(minutes=2))
    return list(Delivery.objects.filter(id__in=ids).select_related("message").order_by("id"))


def _send_one(delivery: Delivery) -> Outcome:
    try:
        return CHANNELS[delivery.channel].send(delivery)
    except Exception as exc:  # a channel bug is a retry, not a lost message
        log.exception("channel %s failed on delivery %s", delivery.channel, delivery.pk)
        return Retry(f"error: {type(exc).__name__}: {exc}"[:300])


def deliveries_send(*, limit: int = 500, now: datetime | None = None, threads: int | None = None) -> dict[str, int]:
    """Send what is due (pending, retry, held past its quiet hours). Sends run outside any
    transaction, several at once; outcomes are written afterwards in bulk."""
    now = now or timezone.now()
    batch = _claim(limit, now)
    counts = {"sent": 0, "retry": 0, "dead": 0}
    if not batch:
        return counts
    threads = threads or int(getattr(settings, "CANTEEN_NOTIFY_THREADS", 8))
    if threads > 1 and len(batch) > 1:
        with ThreadPoolExecutor(max_workers=min(threads, len(batch))) as pool:
            outcomes = list(pool.map(_send_one, batch))
    else:
        outcomes = [_send_one(d) for d in batch]
    done = max(now, timezone.now())
    for delivery, outcome in zip(batch, outcomes, strict=True):
        delivery.attempts += 1
        delivery.claimed_until = None
        if isinstance(outcome, Sent):
            delivery.status = DeliveryStatus.SENT
            delivery.sent_at = done
            delivery.provider_ref = outcome.ref[:120]
            delivery.last_error = ""
            counts["sent"] += 1
        elif isinstance(outcome, Failed):
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = outcome.code[:300]
            counts["dead"] += 1
        elif delivery.attempts >= _max_attempts():
            delivery.status = DeliveryStatus.DEAD
            delivery.last_error = outcome.error[:300]
            counts["dead"] += 1
        else:
            delivery.status = DeliveryStatus.RETRY
            delivery.last_error = outcome.error[:300]
            delivery.next_attempt_at = done + _backoff(delivery.attempts, outcome.after_seconds)
            counts["retry"] += 1
    _record_outcomes(batch, done)
    return counts


def _record_outcomes(batch: list[Delivery], done: datetime) -> None:
    """Write what happened, a few statements per batch: rows that share their outcome in one
    UPDATE each, the providers' receipts in one (bulk_update's CASE per row and field cost more
    CPU than the sends themselves)."""
    from django.db.models import F

    groups: dict[tuple[str, str], list[int]] = {}
    retries = []
    refs = []
    for d in batch:
        if d.status == DeliveryStatus.RETRY:
            retries.append(d)
            continue
        groups.setdefault((d.status, d.last_error), []).append(d.pk)
        if d.status == DeliveryStatus.SENT and d.provider_ref:
            refs.append((d.pk, d.provider_ref))
    for (status, error), ids in groups.items():
        Delivery.objects.filter(pk__in=ids).update(
            status=status,
            last_error=error,
            attempts=F("attempts") + 1,
            claimed_until=None,
            **({"sent_at": done} if status == DeliveryStatus.SENT else {}),
        )
    if retries:
        Delivery.objects.bulk_update(retries, ["attempts", "claimed_until", "status", "last_error", "next_attempt_at"])
    if refs and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE notify_delivery AS d SET provider_ref = v.ref"
                " FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::text[]) AS ref) AS v WHERE d.id = v.id",
                [[pk for pk, _r in refs], [r for _pk, r in refs]],
            )
    elif refs:
        by_pk = dict(refs)
        rows = [d for d in batch if d.pk in by_pk]
        Delivery.objects.bulk_update(rows, ["provider_ref"])


def _can_manage(actor: Any, delivery: Delivery) -> bool:
    return Delivery.objects.visible_to(actor).filter(pk=delivery.pk).exists()


@transaction.atomic
def delivery_retry(*, actor: Any, deliveries: Iterable[Delivery | int]) -> int:
    """A staff member sends dead-lettered deliveries again (after fixing an address or once
    the provider is back): attempts start over."""
    ids = [getattr(d, "pk", d) for d in deliveries]
    mine = Delivery.objects.visible_to(actor).filter(
        pk__in=ids, status__in=[DeliveryStatus.DEAD, DeliveryStatus.FAILED]
    )
    found = list(mine.select_for_update())
    for d in found:
        audit_record(
            actor=actor,
            action="notify.delivery.retry",
            target_type="notify.Delivery",
            target_id=str(d.pk),
            before={"status": d.status, "attempts": d.attempts, "error": d.last_error},
            after={"status": DeliveryStatus.PENDING},
            district_id=d.district_id,
            school_id=d.school_id,
        )
    return Delivery.objects.filter(pk__in=[d.pk for d in found]).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_until=None
    )


def delivery_receipt_record(*, channel: str, provider_ref: str, delivered: bool, at: datetime | None = None) -> int:
    """A provider's delivery report (WeChat TEMPLATESENDJOBFINISH, an SMS status report):
    the receipt time, or a failure that puts the delivery on the dead-letter list."""
    found = Delivery.objects.filter(channel=channel, provider_ref=provider_ref, status=DeliveryStatus.SENT)
    if delivered:
        return found.update(receipt_at=at or timezone.now())
    return found.update(status=DeliveryStatus.FAILED, last_error="provider reported not delivered")


# ------------------------------------------------------------------ inbox and preferences


def message_read(*, actor: Any, message_ids: Iterable[int] | None = None) -> int:
    """Mark the actor's own messages read (all of them when no ids are given)."""
    mine = Message.objects.filter(user=actor, read_at__isnull=True)
    if message_ids is not None:
        mine = mine.filter(pk__in=list(message_ids))
    return mine.update(read_at=timezone.now())


def _own_key(actor: Any) -> tuple[str, Any, Any]:
    from .recipients import of_user

    r = of_user(actor)
    return r.key, (None if r.guardian is not None else actor), r.guardian


@transaction.atomic
def preference_set(
    *,
    actor: Any,
    channels: dict[str, list[str]] | None = None,
    quiet_start: time | None = None,
    quiet_end: time | None = None,
    meal_charged: bool | None = None,
    language: str | None = None,
) -> Preference:
    key, user, guardian = _own_key(actor)
    pref, _ = Preference.objects.select_for_update().get_or_create(
        recipient_key=key, defaults={"user": user, "guardian": guardian}
    )
    if channels is not None:
        bad = {k: v for k, v in channels.items() if k not in Kind.values or any(c not in CHANNELS for c in v)}
        if bad:
            raise ValidationFailed("渠道设置无效", "Unknown kind or channel", details={"channels": bad})
        pref.channels = channels
    if (quiet_start is None) != (quiet_end is None):
        raise ValidationFailed("免打扰须同时设置开始和结束", "Quiet hours need a start and an end")
    pref.quiet_start, pref.quiet_end = quiet_start, quiet_end
    if meal_charged is not None:
        pref.meal_charged = meal_charged
    if language:
        pref.language = language
    pref.save()
    audit_record(
        actor=actor,
        action="notify.preference.set",
        target_type="notify.Preference",
        target_id=str(pref.pk),
        after={"channels": pref.channels, "quiet": [str(quiet_start), str(quiet_end)], "meal": pref.meal_charged},
    )
    return pref


def address_bind(
    *, channel: str, address: str, user: Any = None, guardian: Any = None, school: Any = None, campus: Any = None
) -> Address:
    """Keep where someone is reached: an openid, an e-mail, a group robot key (replaces the
    previous one of the same owner and channel)."""
    if channel not in CHANNELS or not address.strip():
        raise ValidationFailed(details={"channel": channel})
    owner = {"user": user, "guardian": guardian, "school": school, "campus": campus}
    with transaction.atomic():
        Address.objects.filter(channel=channel, **owner).delete()
        return Address.objects.create(channel=channel, address=address.strip()[:300], **owner)
