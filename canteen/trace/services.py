"""Trace writes: trace codes, device tokens, track points, EPCIS capture and import, recalls."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from canteen.core.audit import audit_record
from canteen.core.errors import NotFound, ValidationFailed
from canteen.core.events import publish

from . import epcis, gs1, keys, sources
from .choices import DeviceKind
from .coldchain import find_breaks, limits_for, strictest
from .errors import (
    BatchNotAccepted,
    DeviceTokenInvalid,
    EpcisImportRejected,
    TrackOwnershipConflict,
    TrackPointsInvalid,
)
from .models import ColdChainBreak, EpcisEvent, Recall, TraceCode, TrackPoint, TransportDevice, TransportTrack

# Crockford base32 without I, L, O, U: nothing to misread on a printed label.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 random bits
MAX_POINTS_PER_POST = 1000


def resolver_base() -> str:
    """The base of GS1 Digital Link URIs of our batches (`<base>/01/<gtin>/10/<lot>`)."""
    return keys.resolver_base()


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def batch_class_uri(code: TraceCode) -> str:
    return gs1.digital_link(resolver_base(), code.gtin, code.lot)


def label_uri(code: TraceCode) -> str:
    """What the label's QR encodes: the batch's GS1 Digital Link, with the trace code when the
    same GTIN and lot went to more than one campus (the lot alone would not say which batch)."""
    shared = TraceCode.objects.filter(gtin=code.gtin, lot=code.lot).exclude(pk=code.pk).exists()
    return gs1.digital_link(resolver_base(), code.gtin, code.lot, code=code.code if shared else None)


def qc_report_uri(code: TraceCode) -> str:
    return f"{resolver_base()}/t/{code.code}/qc"


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
    gtin = keys.KeyBook(batch.district_id).product_gtin(batch.item_id, batch.producer)
    lot = gs1.safe_lot(batch.batch_number)
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


QUICK_TEST_MASS = ("mg/kg", "μg/kg", "ug/kg", "mg/L", "μg/L")


def _quick_test_report(test: dict[str, Any], at: datetime) -> dict[str, Any]:
    """One quick test (农残, 瘦肉精 ...) as a sensor report: its value, its unit, pass or fail."""
    name = str(test.get("test", "test"))[:60]
    unit = str(test.get("unit", ""))[:20]
    report: dict[str, Any] = {
        "type": "gs1:Dimensionless"
        if unit in ("%", "")
        else "gs1:MassConcentration"
        if unit in QUICK_TEST_MASS
        else "gs1:Dimensionless",
        "time": epcis.iso(at),
        "dataProcessingMethod": f"{epcis.CANTEEN_NS}quick-test/{quote(name, safe='')}",
        "booleanValue": bool(test.get("passed", True)),
    }
    try:
        value = float(str(test.get("value", "")).strip())
        report["value"] = value
    except ValueError:
        if test.get("value") not in (None, ""):
            report["stringValue"] = str(test.get("value"))[:60]
    if unit == "%":
        report["uom"] = "P1"
    elif unit:
        report["canteen:unit"] = unit
    if not report["booleanValue"]:
        report["exception"] = "ALARM_CONDITION"
    return report


def _captured_events(code: TraceCode, batch: Any, book: keys.KeyBook | None = None) -> list[dict[str, Any]]:
    """receiving → inspecting → storing for one accepted batch, as EPCIS ObjectEvents: recorded
    by the platform at acceptance, never replaced afterwards."""
    book = book or keys.KeyBook(batch.district_id)
    delivery = batch.delivery_line.delivery
    arrived = delivery.arrived_at or batch.accepted_at or timezone.now()
    accepted = batch.accepted_at or arrived
    here = book.campus_site(batch.campus_id)
    qty = _quantity(code, batch.accepted_quantity or batch.quantity, batch.unit)
    delivered = _quantity(code, batch.quantity, batch.unit)
    ilmd: dict[str, Any] = {
        "cbvmda:lotNumber": batch.batch_number[:60],
        "cbvmda:productionDate": batch.production_date.isoformat(),
    }
    if batch.expires_on:
        ilmd["cbvmda:bestBeforeDate"] = batch.expires_on.isoformat()
    if batch.producer:
        ilmd["cbvmda:manufacturerOfTradeItemPartyName"] = batch.producer[:120]
        ilmd["canteen:producer"] = book.producer_party(batch.producer)
    transactions = [{"type": "po", "bizTransaction": f"urn:uuid:{delivery.order_id}"}]
    tests = [t for t in (batch.quick_tests or []) if isinstance(t, dict)]
    passed = all(t.get("passed", True) for t in tests)
    limits = limits_for(storage=batch.item.storage, category=batch.item.category)
    inspect_sensors = []
    reports = [_quick_test_report(t, accepted) for t in tests]
    if batch.arrival_temperature_c is not None:
        value = float(batch.arrival_temperature_c)
        reading: dict[str, Any] = {"type": "gs1:Temperature", "time": epcis.iso(arrived), "value": value, "uom": "CEL"}
        if limits.min_c is not None:
            reading["canteen:lowerLimit"] = float(limits.min_c)
        if limits.max_c is not None:
            reading["canteen:upperLimit"] = float(limits.max_c)
        if (limits.min_c is not None and value < float(limits.min_c)) or (
            limits.max_c is not None and value > float(limits.max_c)
        ):
            reading["exception"] = "ALARM_CONDITION"
        reports.insert(0, reading)
    if reports:
        inspect_sensors.append({"sensorMetadata": {"time": epcis.iso(accepted)}, "sensorReport": reports})
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
            sources=[
                {"type": "owning_party", "source": book.supplier_party(batch.supplier_id)},
                {"type": "location", "source": book.supplier_site(batch.supplier_id)},
            ],
            destinations=[
                {"type": "owning_party", "destination": book.district_party()},
                {"type": "location", "destination": here},
            ],
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
            certification=[qc_report_uri(code)] if batch.qc_report else None,
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
    events: list[dict[str, Any]],
    *,
    district_id: Any,
    codes: list[TraceCode] | dict[int, list[TraceCode]],
    imported: bool,
    actor: Any = None,
) -> list[EpcisEvent]:
    """Insert events (never update: the store is append-only). `codes` is one list for all the
    events, or per event index."""
    rows = EpcisEvent.objects.bulk_create(
        [
            EpcisEvent(
                event_id=epcis.storage_id(event)[:500],
                declares_error="errorDeclaration" in event,
                event_type=str(event["type"])[:24],
                event_time=epcis.parse_time(event["eventTime"]),
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
    links = []
    for index, row in enumerate(rows):
        linked = codes.get(index, []) if isinstance(codes, dict) else codes
        links.extend(through(epcisevent_id=row.pk, tracecode_id=code.pk) for code in linked)
    through.objects.bulk_create(links, ignore_conflicts=True)
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

SUPPLIER_ROLE = "supplier_user"


def _codes_for_uris(uris: Iterable[str], district_ids: list[Any]) -> tuple[dict[str, list[TraceCode]], list[str]]:
    """Map identifiers of lots (GS1 Digital Link on any host, or the EPC URN `lgtin` form) to
    our trace codes; dish URIs of known campuses count as known. Returns (uri → codes, the uris
    that name nothing of this district)."""
    from canteen.org.models import Campus

    wanted: dict[tuple[str, str], list[tuple[str, str]]] = {}
    dish_campuses: dict[str, list[str]] = {}
    unknown: list[str] = []
    for uri in set(uris):
        key = gs1.parse(uri)
        if key.kind == "lot":
            wanted.setdefault((key.gtin, key.lot), []).append((uri, key.code))
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
            for uri, only in wanted.get((code.gtin, code.lot), []):
                if not only or only == code.code:
                    found.setdefault(uri, []).append(code)
        unknown.extend(uri for pairs in wanted.values() for uri, _c in pairs if uri not in found)
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


def _supplier_ids_of(actor: Any) -> set[Any] | None:
    """None: the actor may write about any batch of the district; else the suppliers it acts for."""
    if getattr(actor, "is_superuser", False) or getattr(actor, "role", "") != SUPPLIER_ROLE:
        return None
    from canteen.procurement.models import SupplierMember

    return set(SupplierMember.objects.filter(user=actor).values_list("supplier_id", flat=True))


def epcis_import(*, actor: Any, raw: bytes | str, district_id: Any) -> dict[str, Any]:
    """Import (capture) an EPCIS 2.0 document into a district's trace history.

    Any valid document is taken: all five event types, any CBV step, identifiers in URN or
    Digital Link form. Events naming our lots are linked to their trace codes; the rest are
    kept as sent, and every body is exported back unchanged. The store is append-only: an event
    the platform recorded, or one already stored, is never replaced. The same event sent again
    unchanged is skipped; with other content it is refused, and the way to correct it is the
    standard error declaration (the original event plus `errorDeclaration`), kept beside it.

    All or nothing: when any event is wrong nothing is written, and the error lists every wrong
    event by index and eventID."""
    from .selectors import platform_events

    try:
        doc = epcis.parse_document(raw)
    except epcis.EpcisFormatError as exc:
        raise EpcisImportRejected(
            details={"reason": str(exc), "problems": exc.problems[:20], "events": exc.event_errors}
        ) from exc
    events: list[dict[str, Any]] = doc["epcisBody"]["eventList"]
    if not events:
        raise EpcisImportRejected(details={"reason": "the document has no events"})
    keys_ = [(epcis.storage_id(e), "errorDeclaration" in e) for e in events]
    errors: dict[int, list[str]] = {}
    seen: dict[tuple[str, bool], int] = {}
    for index, key in enumerate(keys_):
        if key in seen:
            errors.setdefault(index, []).append(f"eventID repeated in the document (event {seen[key]})")
        seen.setdefault(key, index)
    allowed_suppliers = _supplier_ids_of(actor)
    with transaction.atomic():
        uri_codes, unknown = _codes_for_uris((uri for e in events for uri in epcis.epcs_of(e)), [district_id])
        named: dict[int, list[TraceCode]] = {}
        for index, event in enumerate(events):
            codes = {c.pk: c for uri in epcis.epcs_of(event) for c in uri_codes.get(uri, [])}
            named[index] = list(codes.values())
        all_codes = list({c.pk: c for cs in named.values() for c in cs}.values())
        if allowed_suppliers is not None and all_codes:
            owners = dict(
                TraceCode.objects.filter(pk__in=[c.pk for c in all_codes]).values_list("pk", "batch__supplier_id")
            )
            for index, codes in named.items():
                if any(owners.get(c.pk) not in allowed_suppliers for c in codes):
                    errors.setdefault(index, []).append("names a batch your company did not supply")
        platform = platform_events(all_codes) if all_codes else {}
        stored = {
            (row.event_id, row.declares_error): row
            for row in EpcisEvent.objects.filter(event_id__in=[k[0] for k in keys_])
        }
        for index, key in enumerate(keys_):
            row = stored.get(key)
            if row is not None and str(row.district_id) != str(district_id):
                errors.setdefault(index, []).append("this eventID is recorded by another district")
        originals = {row.event_id: row for (eid, decl), row in stored.items() if not decl}
        new: list[int] = []
        unchanged = 0
        for index, (event, (sid, declares)) in enumerate(zip(events, keys_, strict=True)):
            if index in errors:
                continue
            if not declares:
                original = platform.get(sid) or (originals[sid].body if sid in originals else None)
                if original is None:
                    new.append(index)
                elif original == event:
                    unchanged += 1
                elif sid in platform:
                    errors.setdefault(index, []).append(
                        "recorded by the platform and cannot be replaced; to correct it send the "
                        "event with an errorDeclaration and corrective events"
                    )
                else:
                    errors.setdefault(index, []).append(
                        "an event with this eventID is already recorded with other content; records are "
                        "append-only: send an errorDeclaration to correct it"
                    )
                continue
            # An error declaration: the original must be known here; it is stored beside it.
            if sid not in platform and sid not in originals:
                errors.setdefault(index, []).append("declares an error in an event this district does not hold")
                continue
            if (sid, True) in stored:
                if stored[(sid, True)].body == event:
                    unchanged += 1
                else:
                    errors.setdefault(index, []).append("an error declaration for this event is already recorded")
                continue
            if sid in originals and not named[index]:
                named[index] = list(originals[sid].codes.all())
            new.append(index)
        if errors:
            raise EpcisImportRejected(
                details={
                    "reason": "some events were refused; nothing was imported",
                    "events": [
                        {"index": i, "eventID": keys_[i][0][:200], "errors": errs[:10]}
                        for i, errs in sorted(errors.items())[:50]
                    ],
                }
            )
        rows = _store_events(
            [events[i] for i in new],
            district_id=district_id,
            codes={position: named[i] for position, i in enumerate(new)},
            imported=True,
            actor=actor,
        )
        unlinked = [keys_[i][0] for i in new if not named[i]]
        if rows:
            audit_record(
                actor=actor,
                action="trace.epcis_imported",
                target_type="trace.epcisevent",
                target_id=keys_[new[0]][0][:64],
                after={"events": len(rows), "unchanged": unchanged, "unlinked": len(unlinked)},
                district_id=district_id,
            )
    return {
        "imported": len(rows),
        "unchanged": unchanged,
        "event_ids": [keys_[i][0] for i in new],
        "corrections": [keys_[i][0] for i in new if keys_[i][1]],
        "unlinked": unlinked[:200],
        "unknown_epcs": unknown[:50],
    }


# ---------------------------------------------------------------- recalls


def recall_raise(*, actor: Any, code: TraceCode, reason: str) -> Recall:
    """Raise a recall (see recalls.py: quarantine, cases, pupils, notification)."""
    from .recalls import recall_raise as raise_

    return raise_(actor=actor, code=code, reason=reason)
