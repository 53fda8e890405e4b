"""Trace writes: trace codes, device tokens, track points, EPCIS capture and import, recalls."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from canteen.core.audit import audit_record
from canteen.core.errors import Forbidden, NotFound, ValidationFailed
from canteen.core.events import publish

from . import epcis, sources
from .choices import DeviceKind, RecallStatus
from .coldchain import find_breaks, limits_for, strictest
from .errors import (
    BatchNotAccepted,
    DeviceTokenInvalid,
    EpcisImportRejected,
    RecallExists,
    TrackOwnershipConflict,
    TrackPointsInvalid,
)
from .models import ColdChainBreak, EpcisEvent, Recall, TraceCode, TrackPoint, TransportDevice, TransportTrack

# Crockford base32 without I, L, O, U: nothing to misread on a printed label.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 random bits
MAX_POINTS_PER_POST = 1000
# Who may recall a batch: the regulators and the school's own administration.
RECALL_ROLES = frozenset({"district_regulator", "city_regulator", "school_admin"})


def resolver_base() -> str:
    """The base of GS1 Digital Link URIs of our batches (`<base>/01/<gtin>/10/<lot>`)."""
    return getattr(settings, "CANTEEN_TRACE_RESOLVER", "https://canteen.local/t")


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def batch_class_uri(code: TraceCode) -> str:
    return epcis.batch_class_uri(resolver_base(), code.gtin, code.lot)


def campus_uri(campus: Any) -> str:
    return f"urn:canteen:campus:{campus.code}"


def supplier_uri(supplier_id: Any) -> str:
    return f"urn:canteen:supplier:{supplier_id}"


def _uom(unit: str) -> str | None:
    return epcis.UOM_BY_UNIT.get(unit)


def _quantity(code: TraceCode, quantity: Decimal, unit: str) -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": batch_class_uri(code), "quantity": float(quantity)}
    uom = _uom(unit)
    if uom:
        element["uom"] = uom
    return element


# ---------------------------------------------------------------- trace codes


@transaction.atomic
def trace_code_issue(*, batch_id: UUID | str, actor: Any = None) -> TraceCode:
    """Give an accepted batch its trace code (once) and capture its receiving, inspecting and
    storing events. Safe to call again: returns the existing code."""
    existing = TraceCode.objects.filter(batch_id=batch_id).first()
    if existing is not None:
        return existing
    batch = sources.batch_for_trace(batch_id)
    if batch is None:
        raise NotFound(details={"batch_id": str(batch_id)})
    if batch.status not in sources.ACCEPTED:
        raise BatchNotAccepted(details={"status": batch.status})
    gtin = epcis.gtin_like(f"item:{batch.item_id}")
    lot = epcis.safe_lot(batch.batch_number)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                code = TraceCode.objects.create(
                    batch=batch,
                    code=_new_code(),
                    gtin=gtin,
                    lot=lot,
                    district_id=batch.district_id,
                    campus_id=batch.campus_id,
                )
            break
        except IntegrityError:
            # Another request issued it meanwhile (batch is unique), or a 1-in-2^50 code clash.
            existing = TraceCode.objects.filter(batch_id=batch_id).first()
            if existing is not None:
                return existing
    else:  # pragma: no cover - five clashes of 50-bit random codes
        raise RuntimeError("could not allocate a unique trace code")
    _store_events(_captured_events(code, batch), district_id=batch.district_id, codes=[code], imported=False)
    audit_record(
        actor=actor,
        action="trace.code_issued",
        target=code,
        after={"batch": str(batch.pk), "code": code.code, "gtin": gtin, "lot": lot},
        district_id=batch.district_id,
        school_id=batch.campus.school_id,
    )
    return code


def _captured_events(code: TraceCode, batch: Any) -> list[dict[str, Any]]:
    """receiving → inspecting → storing for one accepted batch, as EPCIS ObjectEvents."""
    delivery = batch.delivery_line.delivery
    arrived = delivery.arrived_at or batch.accepted_at or timezone.now()
    accepted = batch.accepted_at or arrived
    here = campus_uri(batch.campus)
    qty = _quantity(code, batch.accepted_quantity or batch.quantity, batch.unit)
    delivered = _quantity(code, batch.quantity, batch.unit)
    ilmd: dict[str, Any] = {
        "cbvmda:lotNumber": batch.batch_number[:60],
        "cbvmda:productionDate": batch.production_date.isoformat(),
    }
    if batch.expires_on:
        ilmd["cbvmda:bestBeforeDate"] = batch.expires_on.isoformat()
    transactions = [{"type": "po", "bizTransaction": f"urn:canteen:po:{delivery.order_id}"}]
    tests = [t for t in (batch.quick_tests or []) if isinstance(t, dict)]
    passed = all(t.get("passed", True) for t in tests)
    inspect_sensors = []
    if batch.arrival_temperature_c is not None:
        inspect_sensors.append(
            {
                "sensorMetadata": {"time": epcis.iso(arrived)},
                "sensorReport": [
                    {"type": "gs1:Temperature", "value": float(batch.arrival_temperature_c), "uom": "CEL"}
                ],
            }
        )
    return [
        epcis.object_event(
            eid=epcis.event_id("receiving", batch.pk),
            when=arrived,
            biz_step="receiving",
            action="ADD",
            disposition="in_progress",
            quantities=[delivered],
            read_point=here,
            biz_location=here,
            biz_transactions=transactions,
            sources=[{"type": "owning_party", "source": supplier_uri(batch.supplier_id)}],
            destinations=[{"type": "owning_party", "destination": here}],
            ilmd=ilmd,
        ),
        epcis.object_event(
            eid=epcis.event_id("inspecting", batch.pk),
            when=accepted,
            biz_step="inspecting",
            disposition="conformant" if passed else "non_conformant",
            quantities=[delivered],
            read_point=here,
            biz_location=here,
            sensors=inspect_sensors or None,
        ),
        epcis.object_event(
            eid=epcis.event_id("storing", batch.pk),
            when=accepted,
            biz_step="storing",
            disposition="active",
            quantities=[qty],
            read_point=here,
            biz_location=here,
        ),
    ]


def _store_events(
    events: list[dict[str, Any]], *, district_id: Any, codes: list[TraceCode], imported: bool, actor: Any = None
) -> list[EpcisEvent]:
    rows = EpcisEvent.objects.bulk_create(
        [
            EpcisEvent(
                event_id=event["eventID"],
                event_type=event["type"],
                event_time=parse_datetime(event["eventTime"]),
                biz_step=str(event.get("bizStep", ""))[:120],
                body=event,
                district_id=district_id,
                imported=imported,
                imported_by=actor if imported and getattr(actor, "pk", None) else None,
            )
            for event in events
        ]
    )
    through = EpcisEvent.codes.through
    through.objects.bulk_create(
        [through(epcisevent_id=row.pk, tracecode_id=code.pk) for row in rows for code in codes], ignore_conflicts=True
    )
    return rows


# ---------------------------------------------------------------- devices and tracks


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def device_register(
    *, actor: Any, supplier: Any, name: str, kind: str = DeviceKind.VEHICLE
) -> tuple[TransportDevice, str]:
    """A new device token for a supplier's vehicle or app. The token is shown once."""
    if kind not in DeviceKind.values:
        raise ValidationFailed(details={"kind": kind})
    token = "dev_" + secrets.token_urlsafe(32)
    device = TransportDevice.objects.create(
        supplier=supplier,
        district_id=supplier.district_id,
        name=name.strip()[:60] or "device",
        kind=kind,
        token_hash=_token_hash(token),
        token_hint=token[:8],
    )
    audit_record(
        actor=actor,
        action="trace.device_registered",
        target=device,
        after={"supplier": str(supplier.pk), "kind": kind},
        district_id=supplier.district_id,
    )
    return device, token


@transaction.atomic
def device_revoke(*, actor: Any, device: TransportDevice) -> TransportDevice:
    device.is_active = False
    device.save(update_fields=["is_active", "updated_at"])
    audit_record(actor=actor, action="trace.device_revoked", target=device, district_id=device.district_id)
    return device


def device_for_token(token: str | None) -> TransportDevice:
    if not token or len(token) > 200:
        raise DeviceTokenInvalid()
    device = TransportDevice.objects.filter(token_hash=_token_hash(token), is_active=True).first()
    if device is None:
        raise DeviceTokenInvalid()
    return device


def _decimal(value: Any, low: Decimal, high: Decimal, places: int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("not a number")
    number = Decimal(str(value))
    if not number.is_finite() or number < low or number > high:
        raise ValueError(f"outside {low}..{high}")
    return number.quantize(Decimal(1).scaleb(-places))


def _clean_points(points: Any, now: datetime) -> list[dict[str, Any]]:
    if not isinstance(points, list) or not points:
        raise TrackPointsInvalid(details={"points": "a non-empty list is required"})
    if len(points) > MAX_POINTS_PER_POST:
        raise TrackPointsInvalid(details={"points": f"at most {MAX_POINTS_PER_POST} points per request"})
    cleaned: list[dict[str, Any]] = []
    problems: dict[str, str] = {}
    seen: set[int] = set()
    for index, raw in enumerate(points):
        try:
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            seq = raw.get("seq")
            if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= 2**53:
                raise ValueError("seq must be an integer from 1")
            if seq in seen:
                raise ValueError("seq repeated in this request")
            at = parse_datetime(str(raw.get("at", ""))) if isinstance(raw.get("at"), str) else None
            if at is None or timezone.is_naive(at):
                raise ValueError("at must be an ISO 8601 time with a zone")
            if at > now + timedelta(minutes=5) or at < now - timedelta(days=30):
                raise ValueError("at is in the future or older than 30 days")
            point = {
                "seq": seq,
                "at": at,
                "lat": _decimal(raw.get("lat"), Decimal(-90), Decimal(90), 6),
                "lon": _decimal(raw.get("lon"), Decimal(-180), Decimal(180), 6),
                "temperature_c": None,
                "speed_kmh": None,
            }
            if raw.get("temperature_c") is not None:
                point["temperature_c"] = _decimal(raw["temperature_c"], Decimal(-40), Decimal(60), 1)
            if raw.get("speed_kmh") is not None:
                point["speed_kmh"] = _decimal(raw["speed_kmh"], Decimal(0), Decimal(200), 1)
        except (ValueError, InvalidOperation) as exc:
            problems[str(index)] = str(exc)
            continue
        seen.add(seq)
        cleaned.append(point)
    if problems:
        raise TrackPointsInvalid(details={"points": problems})
    return cleaned


def _delivery_limits(delivery: Any) -> Any:
    lines = delivery.lines.select_related("item") if delivery is not None else []
    return strictest([limits_for(storage=line.item.storage, category=line.item.category) for line in lines])


def track_points_record(
    *, device: TransportDevice, trip_ref: str, points: Any, delivery_id: Any = None
) -> dict[str, Any]:
    """Store a device's points for one trip. Idempotent by (device, seq): a resent request adds
    nothing; points may come in any order. Recomputes the trip's cold-chain breaks."""
    trip_ref = (trip_ref or "").strip()[:40]
    if not trip_ref:
        raise TrackPointsInvalid(details={"trip": "required"})
    cleaned = _clean_points(points, timezone.now())
    with transaction.atomic():
        device = TransportDevice.objects.select_for_update().get(pk=device.pk)
        if not device.is_active:
            raise DeviceTokenInvalid()
        delivery = None
        if delivery_id:
            from canteen.procurement.models import Delivery

            delivery = Delivery.objects.filter(pk=delivery_id).select_related("campus").first()
            if delivery is None or delivery.supplier_id != device.supplier_id:
                raise TrackOwnershipConflict(details={"delivery": str(delivery_id)})
        track, created = TransportTrack.objects.select_for_update().get_or_create(
            device=device,
            trip_ref=trip_ref,
            defaults={"district_id": device.district_id},
        )
        if delivery is not None:
            if track.delivery_id and track.delivery_id != delivery.pk:
                raise TrackOwnershipConflict(details={"trip": trip_ref})
            if track.delivery_id is None:
                limits = _delivery_limits(delivery)
                track.delivery = delivery
                track.campus_id = delivery.campus_id
                track.profile, track.min_c, track.max_c = limits.profile, limits.min_c, limits.max_c
        seqs = [p["seq"] for p in cleaned]
        known = set(TrackPoint.objects.filter(device=device, seq__in=seqs).values_list("seq", flat=True))
        fresh = [p for p in cleaned if p["seq"] not in known]
        TrackPoint.objects.bulk_create(
            [TrackPoint(track=track, device=device, **p) for p in fresh], ignore_conflicts=True
        )
        breaks_before = track.break_count
        _recompute_track(track)
        device.last_seen_at = timezone.now()
        device.last_seq = max(device.last_seq, max(seqs))
        device.save(update_fields=["last_seen_at", "last_seq", "updated_at"])
        if track.delivery_id and track.break_count:
            # The delivery carries its longest break to acceptance (a break grows as points come).
            from canteen.procurement.services import delivery_coldchain_flag

            longest = track.breaks.order_by("-minutes").first()
            delivery_coldchain_flag(delivery_id=track.delivery_id, minutes=longest.minutes, worst_c=longest.worst_c)
        if track.break_count > breaks_before:
            latest = track.breaks.order_by("-started_at").first()
            publish(
                "trace.cold_chain_break",
                {
                    "track_id": str(track.pk),
                    "delivery_id": str(track.delivery_id) if track.delivery_id else None,
                    "district_id": str(track.district_id),
                    "campus_id": str(track.campus_id) if track.campus_id else None,
                    "started_at": latest.started_at.isoformat() if latest else None,
                    "worst_c": str(latest.worst_c) if latest else None,
                },
            )
            audit_record(
                actor=None,
                action="trace.cold_chain_break",
                target=track,
                after={"breaks": track.break_count},
                district_id=track.district_id,
            )
    return {
        "track": str(track.pk),
        "accepted": len(fresh),
        "duplicates": len(cleaned) - len(fresh),
        "points": track.point_count,
        "breaks": track.break_count,
    }


def _recompute_track(track: TransportTrack) -> None:
    readings = list(
        TrackPoint.objects.filter(track=track, temperature_c__isnull=False).values_list("at", "temperature_c")
    )
    times = list(TrackPoint.objects.filter(track=track).order_by("at").values_list("at", flat=True))
    track.point_count = len(times)
    track.started_at = times[0] if times else None
    track.ended_at = times[-1] if times else None
    limits = limits_for(storage=track.profile)
    if track.min_c is not None or track.max_c is not None:
        limits = type(limits)(track.profile, track.min_c, track.max_c, limits.tolerance_minutes)
    found = find_breaks(readings, limits)
    ColdChainBreak.objects.filter(track=track).delete()
    ColdChainBreak.objects.bulk_create(
        [
            ColdChainBreak(
                track=track,
                started_at=b.started_at,
                ended_at=b.ended_at,
                minutes=b.minutes,
                worst_c=b.worst_c,
                limit_c=b.limit_c,
            )
            for b in found
        ]
    )
    track.break_count = len(found)
    track.save()


# ---------------------------------------------------------------- EPCIS import


def _codes_for_uris(uris: Iterable[str], district_ids: list[Any]) -> tuple[dict[str, list[TraceCode]], list[str]]:
    """Map batch class URIs (GS1 Digital Link, any host) to our trace codes; dish URIs of known
    campuses are accepted as outputs. Returns (uri → codes, unknown uris)."""
    from canteen.org.models import Campus

    wanted: dict[tuple[str, str], list[str]] = {}
    dish_campuses: dict[str, list[str]] = {}
    unknown: list[str] = []
    for uri in set(uris):
        parts = uri.split("/")
        if "01" in parts and "10" in parts:
            i, j = parts.index("01"), parts.index("10")
            if j == i + 2 and len(parts) == j + 2:
                wanted.setdefault((parts[i + 1], parts[j + 1]), []).append(uri)
                continue
        if uri.startswith("urn:canteen:dish:") and len(uri.split(":")) == 7:
            dish_campuses.setdefault(uri.split(":")[3], []).append(uri)
            continue
        unknown.append(uri)
    found: dict[str, list[TraceCode]] = {}
    if wanted:
        lots = {lot for _g, lot in wanted}
        gtins = {g for g, _lot in wanted}
        for code in TraceCode.objects.filter(district_id__in=district_ids, gtin__in=gtins, lot__in=lots):
            for uri in wanted.get((code.gtin, code.lot), []):
                found.setdefault(uri, []).append(code)
        unknown.extend(uri for uris_ in wanted.values() for uri in uris_ if uri not in found)
    if dish_campuses:
        known = set(
            Campus.objects.filter(code__in=dish_campuses, school__district_id__in=district_ids).values_list(
                "code", flat=True
            )
        )
        for campus_code, dish_uris in dish_campuses.items():
            if campus_code not in known:
                unknown.extend(dish_uris)
    return found, sorted(unknown)


def epcis_import(*, actor: Any, raw: bytes | str, district_id: Any) -> dict[str, Any]:
    """Import an EPCIS 2.0 JSON-LD document into a district's trace history. All or nothing:
    any malformed, oversized, unknown or duplicated event rejects the whole document."""
    try:
        doc = epcis.parse_document(raw)
    except epcis.EpcisFormatError as exc:
        raise EpcisImportRejected(details={"reason": str(exc), "problems": exc.problems[:20]}) from exc
    events: list[dict[str, Any]] = doc["epcisBody"]["eventList"]
    if not events:
        raise EpcisImportRejected(details={"reason": "the document has no events"})
    ids = [e["eventID"] for e in events]
    repeated = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if repeated:
        raise EpcisImportRejected(details={"reason": "duplicated eventID in the document", "event_ids": repeated[:20]})
    with transaction.atomic():
        present = list(EpcisEvent.objects.filter(event_id__in=ids).values_list("event_id", flat=True)[:20])
        if present:
            raise EpcisImportRejected(details={"reason": "events already recorded", "event_ids": sorted(present)})
        uri_codes, unknown = _codes_for_uris((uri for e in events for uri in epcis.epcs_of(e)), [district_id])
        if unknown:
            raise EpcisImportRejected(details={"reason": "unknown EPCs", "epcs": unknown[:20]})
        for event in events:
            codes = {c.pk: c for uri in epcis.epcs_of(event) for c in uri_codes.get(uri, [])}
            if not codes:
                raise EpcisImportRejected(
                    details={"reason": "event names no batch of this district", "event_id": event["eventID"]}
                )
            _store_events([event], district_id=district_id, codes=list(codes.values()), imported=True, actor=actor)
        audit_record(
            actor=actor,
            action="trace.epcis_imported",
            target_type="trace.epcisevent",
            target_id=ids[0][:64],
            after={"events": len(events)},
            district_id=district_id,
        )
    return {"imported": len(events), "event_ids": ids}


# ---------------------------------------------------------------- recalls


@transaction.atomic
def recall_raise(*, actor: Any, code: TraceCode, reason: str) -> Recall:
    """Raise a recall of a batch (and every batch of the same lot in the district): freezes the
    affected campuses, days and dishes, and notifies every affected campus through an event."""
    from .selectors import recall_query

    if not (getattr(actor, "is_superuser", False) or getattr(actor, "role", "") in RECALL_ROLES):
        raise Forbidden()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": "required"})
    code = TraceCode.objects.select_for_update().get(pk=code.pk)
    if Recall.objects.filter(code=code, status=RecallStatus.OPEN).exists():
        raise RecallExists()
    affected = recall_query(actor=actor, code=code)
    recall = Recall.objects.create(
        code=code, district_id=code.district_id, reason=reason[:200], affected=affected, raised_by=actor
    )
    publish(
        "trace.recall_raised",
        {
            "recall_id": str(recall.pk),
            "district_id": str(code.district_id),
            "reason": recall.reason,
            "campus_ids": [c["campus_id"] for c in affected["campuses"]],
            "batch_ids": affected["batch_ids"],
        },
    )
    audit_record(
        actor=actor,
        action="trace.recall_raised",
        target=recall,
        after={"reason": recall.reason, "campuses": len(affected["campuses"])},
        district_id=code.district_id,
    )
    return recall
