"""GS1 EPCIS 2.0 JSON-LD: building events, parsing untrusted documents, schema validation.

Pure functions only (no database): services.py and selectors.py put them to work.

Identifiers used by the platform:
- a batch (a lot of one item) is an EPC class in GS1 Digital Link form,
  `https://<resolver>/01/<GTIN-14>/10/<lot>`; quantities travel in quantityList (kg, pieces);
- a dish served on a day at a campus is `urn:canteen:dish:<campus code>:<yyyy-mm-dd>:<meal>:<dish id>`;
- locations are `urn:canteen:campus:<code>` and `urn:canteen:supplier:<id>`.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
OWN_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "epcis-2.0-canteen.schema.json"
# uuid5 namespace: the same fact always gets the same eventID, so an export re-imported is
# recognised as a duplicate instead of doubling the history.
EVENT_NS = uuid.UUID("6f1d3c3e-2a0c-4f54-9d0e-5c1b7d3a9e11")

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024  # below Django's 2.5 MB request body limit
MAX_EVENTS = 20000
MAX_DEPTH = 24

UOM_BY_UNIT = {"kg": "KGM", "g": "GRM", "l": "LTR", "L": "LTR", "ml": "MLT", "piece": "H87", "pcs": "H87", "个": "H87"}


class EpcisFormatError(ValueError):
    """The document could not be read or does not follow the schema; `problems` says where."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


# ---------------------------------------------------------------- parsing untrusted input


def _reject_constant(name: str) -> Any:
    raise EpcisFormatError(f"non-standard JSON constant {name}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise EpcisFormatError(f"duplicate key {key!r} in one JSON object")
        seen[key] = value
    return seen


def _depth_ok(raw: bytes | str, limit: int) -> bool:
    """Bracket depth measured on the text before parsing: a deeply nested 'JSON bomb' is refused
    without building it (and without recursion in the parser)."""
    text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_document(raw: bytes | str) -> dict[str, Any]:
    """Parse an uploaded EPCIS document defensively (size, depth, duplicates, NaN) and validate it."""
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size == 0:
        raise EpcisFormatError("empty document")
    if size > MAX_DOCUMENT_BYTES:
        raise EpcisFormatError(f"document too large: {size} bytes (limit {MAX_DOCUMENT_BYTES})")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EpcisFormatError("document is not UTF-8") from exc
    if not _depth_ok(raw, MAX_DEPTH):
        raise EpcisFormatError(f"document nested deeper than {MAX_DEPTH} levels")
    try:
        doc = json.loads(raw, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except EpcisFormatError:
        raise
    except (ValueError, RecursionError) as exc:
        raise EpcisFormatError(f"malformed JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise EpcisFormatError("an EPCIS document must be a JSON object")
    events = (doc.get("epcisBody") or {}).get("eventList") if isinstance(doc.get("epcisBody"), dict) else None
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        raise EpcisFormatError(f"too many events: {len(events)} (limit {MAX_EVENTS})")
    problems = validate_document(doc)
    if problems:
        raise EpcisFormatError("document does not follow the EPCIS 2.0 schema", problems)
    return doc


# ---------------------------------------------------------------- schema validation


@lru_cache(maxsize=4)
def _validator(path: str) -> jsonschema.Draft7Validator:
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def schema_paths() -> list[str]:
    """Our own schema always; the official GS1 schema too when CANTEEN_EPCIS_SCHEMA names it
    (no registry package ships it, and fetched files may not be committed)."""
    paths = [str(OWN_SCHEMA_PATH)]
    official = os.environ.get("CANTEEN_EPCIS_SCHEMA")
    if official and Path(official).is_file():
        paths.append(official)
    return paths


def validate_document(doc: Any, *, paths: list[str] | None = None) -> list[str]:
    problems: list[str] = []
    for path in paths or schema_paths():
        validator = _validator(path)
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))[:20]:
            where = "/".join(str(p) for p in error.absolute_path) or "(document)"
            problems.append(f"{Path(path).name}: {where}: {error.message[:200]}")
    return problems


# ---------------------------------------------------------------- identifiers


def gtin_check_digit(body13: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body13)))
    return str((10 - total % 10) % 10)


def gtin_like(seed: str) -> str:
    """A GTIN-14 in GS1's restricted-circulation range (prefix 02: for use inside one company),
    for catalogue items that carry no real GTIN. Stable for a given seed."""
    digits = str(uuid.uuid5(EVENT_NS, seed).int)[-10:]
    body = "002" + digits
    return body + gtin_check_digit(body)


def safe_lot(lot: str) -> str:
    """GS1 AI (10) allows 20 characters of a restricted set; keep what fits, stable."""
    cleaned = re.sub(r"[^0-9A-Za-z\-_.]", "", lot or "")[:20]
    return cleaned or "LOT"


def batch_class_uri(resolver: str, gtin: str, lot: str) -> str:
    return f"{resolver.rstrip('/')}/01/{gtin}/10/{lot}"


def event_id(*parts: Any) -> str:
    return f"urn:uuid:{uuid.uuid5(EVENT_NS, '|'.join(str(p) for p in parts))}"


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


def tz_offset(dt: datetime) -> str:
    offset = dt.utcoffset()
    if offset is None:
        return "+00:00"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


# ---------------------------------------------------------------- builders


def object_event(
    *,
    eid: str,
    when: datetime,
    biz_step: str,
    quantities: list[dict[str, Any]],
    action: str = "OBSERVE",
    disposition: str | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    sources: list[dict[str, str]] | None = None,
    destinations: list[dict[str, str]] | None = None,
    biz_transactions: list[dict[str, str]] | None = None,
    sensors: list[dict[str, Any]] | None = None,
    ilmd: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": eid,
        "eventTime": iso(when),
        "eventTimeZoneOffset": tz_offset(when),
        "action": action,
        "bizStep": biz_step,
        "quantityList": quantities,
    }
    if disposition:
        event["disposition"] = disposition
    if read_point:
        event["readPoint"] = {"id": read_point}
    if biz_location:
        event["bizLocation"] = {"id": biz_location}
    if biz_transactions:
        event["bizTransactionList"] = biz_transactions
    if sources:
        event["sourceList"] = sources
    if destinations:
        event["destinationList"] = destinations
    if sensors:
        event["sensorElementList"] = sensors
    if ilmd and action == "ADD":
        event["ilmd"] = ilmd
    return event


def transformation_event(
    *,
    eid: str,
    when: datetime,
    inputs: list[dict[str, Any]],
    output_epcs: list[str],
    transformation_id: str,
    biz_location: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "TransformationEvent",
        "eventID": eid,
        "eventTime": iso(when),
        "eventTimeZoneOffset": tz_offset(when),
        "bizStep": "transforming",
        "disposition": "active",
        "inputQuantityList": inputs,
        "outputEPCList": output_epcs,
        "transformationID": transformation_id,
    }
    if biz_location:
        event["bizLocation"] = {"id": biz_location}
        event["readPoint"] = {"id": biz_location}
    return event


def temperature_sensor_element(
    *, device_uri: str, readings: list[tuple[datetime, float]], start: datetime, end: datetime
) -> dict[str, Any]:
    return {
        "sensorMetadata": {"startTime": iso(start), "endTime": iso(end), "deviceID": device_uri},
        "sensorReport": [
            {"type": "gs1:Temperature", "time": iso(at), "value": round(value, 2), "uom": "CEL"}
            for at, value in readings
        ],
    }


def document(events: list[dict[str, Any]], *, created: datetime) -> dict[str, Any]:
    return {
        "@context": [EPCIS_CONTEXT, {"canteen": "urn:canteen:"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(created),
        "epcisBody": {"eventList": events},
    }


def epcs_of(event: dict[str, Any]) -> list[str]:
    """Every object identifier an event names (instance EPCs and quantity classes)."""
    found: list[str] = []
    for key in ("epcList", "inputEPCList", "outputEPCList"):
        found.extend(event.get(key) or [])
    for key in ("quantityList", "inputQuantityList", "outputQuantityList"):
        found.extend(q["epcClass"] for q in event.get(key) or [])
    return found


def input_epcs_of(event: dict[str, Any]) -> list[str]:
    if event.get("type") == "TransformationEvent":
        return list(event.get("inputEPCList") or []) + [q["epcClass"] for q in event.get("inputQuantityList") or []]
    return epcs_of(event)
