"""Demo data for trace: a trace code (and its captured EPCIS events) for every accepted demo
batch, one tracker per supplier, and a GPS + temperature track for each delivery, driven from
the supplier's depot on the edge of Jingzhou to the campus. One chilled delivery runs warm for
half an hour: the cold-chain break the demo shows.

Procurement's demo bulk-inserts its week of deliveries (no events are published), so codes are
made here in bulk as the acceptance handler would have made them."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from canteen.procurement.choices import BatchStatus, Storage
from canteen.procurement.models import Batch, Delivery

from . import epcis, gs1
from .choices import DeviceKind
from .coldchain import find_breaks, limits_for, strictest
from .keys import KeyBook
from .models import ColdChainBreak, EpcisEvent, TraceCode, TrackPoint, TransportDevice, TransportTrack
from .services import CODE_ALPHABET, CODE_LENGTH, _captured_events

LAT0, LON0 = 30.35, 112.19  # Jingzhou District


def _code(rng: Any) -> str:
    return "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@transaction.atomic
def seed(ctx: Any) -> None:
    rng = ctx.rng
    batches = list(
        Batch.objects.filter(
            district__in=ctx.districts, status__in=(BatchStatus.ACCEPTED, BatchStatus.PARTIALLY_ACCEPTED)
        )
        .exclude(trace_code__isnull=False)
        .select_related("item", "campus__school", "supplier", "delivery_line__delivery")
        .order_by("accepted_at", "id")
    )
    used: set[str] = set(TraceCode.objects.values_list("code", flat=True))
    codes: list[TraceCode] = []
    books: dict[Any, KeyBook] = {}
    for batch in batches:
        code = _code(rng)
        while code in used:
            code = _code(rng)
        used.add(code)
        codes.append(
            TraceCode(
                batch=batch,
                code=code,
                gtin=books.setdefault(batch.district_id, KeyBook(batch.district_id)).product_gtin(
                    batch.item_id, batch.producer
                ),
                lot=gs1.safe_lot(batch.batch_number),
                district_id=batch.district_id,
                campus_id=batch.campus_id,
            )
        )
    TraceCode.objects.bulk_create(codes, batch_size=2000)
    events, links = [], []
    for code in codes:
        for body in _captured_events(code, code.batch, books[code.district_id]):
            row = EpcisEvent(
                event_id=body["eventID"],
                event_type=body["type"],
                event_time=epcis.parse_time(body["eventTime"]),
                biz_step=body["bizStep"],
                body=body,
                district_id=code.district_id,
            )
            events.append(row)
            links.append((row, code))
    EpcisEvent.objects.bulk_create(events, batch_size=2000)
    through = EpcisEvent.codes.through
    through.objects.bulk_create(
        [through(epcisevent_id=e.pk, tracecode_id=c.pk) for e, c in links], batch_size=5000, ignore_conflicts=True
    )
    _seed_tracks(ctx, rng)


def _seed_tracks(ctx: Any, rng: Any) -> None:
    deliveries = list(
        Delivery.objects.filter(district__in=ctx.districts, arrived_at__isnull=False)
        .exclude(trace_tracks__isnull=False)
        .select_related("campus", "supplier")
        .prefetch_related("lines__item")
        .order_by("arrived_at", "id")
    )
    devices: dict[Any, TransportDevice] = {}
    for supplier_id, district_id in sorted({(d.supplier_id, d.district_id) for d in deliveries}, key=str):
        digest = hashlib.sha256(f"demo-device-{supplier_id}".encode()).hexdigest()
        devices[supplier_id] = TransportDevice.objects.create(
            supplier_id=supplier_id,
            district_id=district_id,
            name=f"冷藏车 {digest[:4].upper()}",
            kind=DeviceKind.VEHICLE,
            token_hash=digest,  # no usable token: demo trucks post nothing live
            token_hint="demo",  # noqa: S106 - a display hint, not a secret
        )
    chilled = [d for d in deliveries if any(line.item.storage != Storage.AMBIENT for line in d.lines.all())]
    broken = chilled[len(chilled) // 2].pk if chilled else None
    tracks, points, breaks = [], [], []
    seq: dict[Any, int] = {}
    for delivery in deliveries:
        limits = strictest(
            [limits_for(storage=li.item.storage, category=li.item.category) for li in delivery.lines.all()]
        )
        device = devices[delivery.supplier_id]
        track = TransportTrack(
            device=device,
            delivery=delivery,
            district_id=delivery.district_id,
            campus_id=delivery.campus_id,
            trip_ref=delivery.number[-20:],
            profile=limits.profile,
            min_c=limits.min_c,
            max_c=limits.max_c,
        )
        # From a depot on the edge of town to the campus, with a gentle bend in the road.
        spread = int(hashlib.sha256(str(delivery.supplier_id).encode()).hexdigest()[:4], 16) % 7
        depot = (LAT0 + 0.05 * math.sin(spread), LON0 - 0.08)
        dest = (
            float(delivery.campus.latitude or LAT0 + rng.uniform(-0.08, 0.08)),
            float(delivery.campus.longitude or LON0 + rng.uniform(-0.08, 0.08)),
        )
        n = 20
        start = delivery.dispatched_at
        step = max((delivery.arrived_at - start) / n, timedelta(minutes=2))
        base = {"frozen": -18.0, "chilled": 2.5}.get(limits.profile, 14.0)
        readings = []
        for i in range(n + 1):
            f = i / n
            bend = 0.012 * math.sin(math.pi * f)
            lat = depot[0] + (dest[0] - depot[0]) * f + bend
            lon = depot[1] + (dest[1] - depot[1]) * f - bend
            temp = base + rng.uniform(-0.6, 0.9)
            if delivery.pk == broken and 8 <= i <= 14:
                temp = base + 6.0 + rng.uniform(0, 2.0)  # the reefer unit failed for half an hour
            at = start + step * i
            seq[device.pk] = seq.get(device.pk, 0) + 1
            point = TrackPoint(
                track=track,
                device=device,
                seq=seq[device.pk],
                at=at,
                lat=Decimal(f"{lat:.6f}"),
                lon=Decimal(f"{lon:.6f}"),
                temperature_c=Decimal(f"{temp:.1f}"),
                speed_kmh=Decimal(f"{rng.uniform(25, 55):.1f}"),
            )
            points.append(point)
            readings.append((at, point.temperature_c))
        track.started_at, track.ended_at, track.point_count = readings[0][0], readings[-1][0], len(readings)
        found = find_breaks(readings, limits)
        track.break_count = len(found)
        tracks.append(track)
        breaks.extend(
            ColdChainBreak(
                track=track,
                started_at=b.started_at,
                ended_at=b.ended_at,
                minutes=b.minutes,
                worst_c=b.worst_c,
                limit_c=b.limit_c,
            )
            for b in found
        )
    TransportTrack.objects.bulk_create(tracks, batch_size=1000)
    TrackPoint.objects.bulk_create(points, batch_size=5000)
    ColdChainBreak.objects.bulk_create(breaks)
    for device in devices.values():
        device.last_seq = seq.get(device.pk, 0)
        device.save(update_fields=["last_seq"])
