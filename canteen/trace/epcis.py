"""GS1 EPCIS 2.0 JSON-LD: building events, parsing untrusted documents, schema validation.

Pure functions only (no database): services.py and selectors.py put them to work.

Identifiers used by the platform (see gs1.py for the numbering):
- a batch (a lot of one producer's product) is an EPC class in GS1 Digital Link form,
  `https://<resolver>/01/<GTIN-14>/10/<lot>`; its EPC URN form `urn:epc:class:lgtin:...` is
  understood on import; quantities travel in quantityList (kg, pieces);
- a dish served on a day at a campus is `urn:canteen:dish:<campus code>:<yyyy-mm-dd>:<meal>:<dish id>`;
- sites and read points are SGLNs (`urn:epc:id:sgln:...`), parties PGLNs (`urn:epc:id:pgln:...`).

Business steps and dispositions are CBV 2.0 bare words only (the schema's enumerations).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
from django.conf import settings

from . import gs1

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# Extension terms of the platform (limits of a sensor report, a producer's party): a namespace
# of our own, as EPCIS 2.0 asks of user extensions.
CANTEEN_NS = "https://ns.canteen.example/epcis/"
OWN_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "epcis-2.0-canteen.schema.json"
OFFICIAL_SCHEMA_NAME = "EPCIS-JSON-Schema.json"
# uuid5 namespace: the same fact always gets the same eventID, so an export re-imported is
# recognised as a duplicate instead of doubling the history.
EVENT_NS = uuid.UUID("6f1d3c3e-2a0c-4f54-9d0e-5c1b7d3a9e11")

MAX_EVENTS = 20000
MAX_DEPTH = 24
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")

UOM_BY_UNIT = {"kg": "KGM", "g": "GRM", "l": "LTR", "L": "LTR", "ml": "MLT", "piece": "H87", "pcs": "H87", "个": "H87"}
# The formats the official schema uses; jsonschema checks a format only if its library is installed.
REQUIRED_FORMATS = ("uri", "date-time")


def max_document_bytes() -> int:
    return int(getattr(settings, "CANTEEN_EPCIS_MAX_BYTES", 8 * 1024 * 1024))


class EpcisFormatError(ValueError):
    """The document could not be read or does not follow the schema; `problems` says where, and
    `event_errors` which event (index, eventID) is wrong and why."""

    def __init__(
        self, message: str, problems: list[str] | None = None, event_errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.problems = problems or []
        self.event_errors = event_errors or []


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


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time with its offset, checked for real (no 30 February, no hour 25)."""
    if not isinstance(value, str) or len(value) > 40 or "T" not in value.upper():
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _event_problems(event: Any) -> list[str]:
    """What the schema cannot say: times that exist, an offset that matches nothing odd."""
    if not isinstance(event, dict):
        return ["an event must be a JSON object"]
    problems = []
    if parse_time(event.get("eventTime")) is None:
        problems.append(f"eventTime {str(event.get('eventTime'))[:40]!r} is not a real date and time with an offset")
    if "recordTime" in event and parse_time(event.get("recordTime")) is None:
        problems.append("recordTime is not a real date and time with an offset")
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, dict) and parse_time(declaration.get("declarationTime")) is None:
        problems.append("errorDeclaration.declarationTime is not a real date and time with an offset")
    if "eventID" in event and not isinstance(event["eventID"], str):
        problems.append("eventID must be a string")
    return problems


def parse_document(raw: bytes | str) -> dict[str, Any]:
    """Parse an uploaded EPCIS document defensively (size, depth, duplicates, NaN) and validate it
    against the official schema with format checks on, then every event's times for real."""
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    limit = max_document_bytes()
    if size == 0:
        raise EpcisFormatError("empty document")
    if size > limit:
        raise EpcisFormatError(f"document too large: {size} bytes (limit {limit})")
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
    if doc.get("type") != "EPCISDocument":
        raise EpcisFormatError("not an EPCISDocument (type must be 'EPCISDocument')")
    body = doc.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        raise EpcisFormatError(f"too many events: {len(events)} (limit {MAX_EVENTS})")
    problems, by_event = _schema_problems(doc)
    for index, event in enumerate(events if isinstance(events, list) else []):
        for problem in _event_problems(event):
            by_event.setdefault(index, []).append(problem)
    if problems or by_event:
        event_errors = [
            {
                "index": index,
                "eventID": str(events[index].get("eventID", ""))[:200] if isinstance(events[index], dict) else "",
                "errors": errors[:10],
            }
            for index, errors in sorted(by_event.items())[:50]
        ]
        raise EpcisFormatError("document does not follow the EPCIS 2.0 schema", problems[:20], event_errors)
    return doc


# ---------------------------------------------------------------- schema validation


def official_schema_path() -> Path | None:
    """The official schema: CANTEEN_EPCIS_SCHEMA, else `shared/standards/gs1-epcis-2.0/` in or
    above the checkout (where the project keeps the standard's unchanged files)."""
    configured = getattr(settings, "CANTEEN_EPCIS_SCHEMA", "")
    candidates = [Path(configured)] if configured else []
    here = Path(__file__).resolve().parents[2]
    for base in (here, here.parent, here.parent.parent):
        candidates.append(base / "shared" / "standards" / "gs1-epcis-2.0" / OFFICIAL_SCHEMA_NAME)
    return next((p for p in candidates if p.is_file()), None)


@lru_cache(maxsize=4)
def _validator(path: str) -> jsonschema.Draft7Validator:
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    missing = [f for f in REQUIRED_FORMATS if f not in checker.checkers]
    if missing:
        # Without its library jsonschema silently passes a format: validation would lie.
        raise RuntimeError(f"jsonschema cannot check formats {missing}: install requirements/trace.txt")
    return jsonschema.Draft7Validator(schema, format_checker=checker)


def schema_paths() -> list[str]:
    """The official GS1 schema when it is found; our own, stricter subset otherwise."""
    official = official_schema_path()
    return [str(official)] if official else [str(OWN_SCHEMA_PATH)]


def _schema_problems(doc: Any, *, paths: list[str] | None = None) -> tuple[list[str], dict[int, list[str]]]:
    problems: list[str] = []
    by_event: dict[int, list[str]] = {}
    for path in paths or schema_paths():
        validator = _validator(path)
        errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors[:200]:
            where = list(error.absolute_path)
            message = f"{'/'.join(str(p) for p in where) or '(document)'}: {_message(error)}"
            if len(where) >= 3 and where[:2] == ["epcisBody", "eventList"] and isinstance(where[2], int):
                by_event.setdefault(where[2], []).append(message)
            else:
                problems.append(message)
    return problems, by_event


def _message(error: jsonschema.ValidationError) -> str:
    # anyOf/oneOf failures say "is not valid under any of the given schemas": name the reasons.
    if error.context:
        reasons = sorted({c.message[:120] for c in error.context})[:3]
        return f"{error.message[:120]} ({'; '.join(reasons)})"
    return error.message[:200]


def validate_document(doc: Any, *, paths: list[str] | None = None) -> list[str]:
    problems, by_event = _schema_problems(doc, paths=paths)
    return problems + [p for index in sorted(by_event) for p in by_event[index]]


# ---------------------------------------------------------------- identifiers


def gtin_check_digit(body13: str) -> str:
    return gs1.check_digit(body13)


def safe_lot(lot: str) -> str:
    return gs1.safe_lot(lot)


def batch_class_uri(resolver: str, gtin: str, lot: str) -> str:
    return gs1.digital_link(resolver, gtin, lot)


def event_id(*parts: Any) -> str:
    return f"urn:uuid:{uuid.uuid5(EVENT_NS, '|'.join(str(p) for p in parts))}"


def storage_id(event: dict[str, Any]) -> str:
    """The key an event is stored under: its eventID, or for one without (the standard makes it
    optional) a digest of its content, which is kept out of the body."""
    if isinstance(event.get("eventID"), str) and event["eventID"]:
        return event["eventID"]
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "ni:///sha-256;" + hashlib.sha256(canonical.encode("utf-8")).hexdigest() + "?ver=canteen"


def local_zone() -> ZoneInfo:
    """Where the canteens are: every event happens in the district's zone (Asia/Shanghai)."""
    return ZoneInfo(settings.TIME_ZONE)


def iso(dt: datetime) -> str:
    """A time as it was on the wall where it happened, with its offset (+08:00)."""
    return dt.astimezone(local_zone()).isoformat(timespec="seconds")


def tz_offset(dt: datetime) -> str:
    offset = dt.astimezone(local_zone()).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
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
    certification: list[str] | None = None,
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
    if certification:
        event["certificationInfo"] = certification
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
    """Cooking: the batches that went into a meal in, its dishes out. CBV 2.0 has no "cooking"
    step; the dishes come into being here, which CBV calls `commissioning`."""
    event: dict[str, Any] = {
        "type": "TransformationEvent",
        "eventID": eid,
        "eventTime": iso(when),
        "eventTimeZoneOffset": tz_offset(when),
        "bizStep": "commissioning",
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
    *,
    device_uri: str,
    readings: list[tuple[datetime, float]],
    start: datetime,
    end: datetime,
    min_c: float | None = None,
    max_c: float | None = None,
    breaches: list[dict[str, Any]] | None = None,
    rules_uri: str | None = None,
) -> dict[str, Any]:
    """A trip's temperature log. The limits of what was carried travel as extension terms of
    each reading; a reading outside them carries the standard `ALARM_CONDITION`; each breach
    longer than the tolerated excursion is one more report (start time, worst value, minutes)."""
    limits: dict[str, Any] = {}
    if min_c is not None:
        limits["canteen:lowerLimit"] = float(min_c)
    if max_c is not None:
        limits["canteen:upperLimit"] = float(max_c)
    reports: list[dict[str, Any]] = []
    for at, value in readings:
        report: dict[str, Any] = {"type": "gs1:Temperature", "time": iso(at), "value": round(value, 2), "uom": "CEL"}
        if (min_c is not None and value < float(min_c)) or (max_c is not None and value > float(max_c)):
            report["exception"] = "ALARM_CONDITION"
        report.update(limits)
        reports.append(report)
    for breach in breaches or []:
        reports.append(
            {
                "type": "gs1:Temperature",
                "exception": "ALARM_CONDITION",
                "time": iso(breach["started_at"]),
                "value": float(breach["worst_c"]),
                "uom": "CEL",
                "canteen:breachLimit": float(breach["limit_c"]),
                "canteen:breachMinutes": int(breach["minutes"]),
                "canteen:breachEnd": iso(breach["ended_at"]),
                **limits,
            }
        )
    metadata: dict[str, Any] = {"startTime": iso(start), "endTime": iso(end), "deviceID": device_uri}
    if rules_uri:
        metadata["bizRules"] = rules_uri
    return {"sensorMetadata": metadata, "sensorReport": reports}


def document(events: list[dict[str, Any]], *, created: datetime) -> dict[str, Any]:
    return {
        "@context": [EPCIS_CONTEXT, {"canteen": CANTEEN_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(created),
        "epcisBody": {"eventList": events},
    }


def _uris(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _classes(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [q["epcClass"] for q in value if isinstance(q, dict) and isinstance(q.get("epcClass"), str)]


def epcs_of(event: dict[str, Any]) -> list[str]:
    """Every object identifier an event names (instances, classes, parents) of any event type."""
    found: list[str] = []
    for key in ("epcList", "inputEPCList", "outputEPCList", "childEPCs"):
        found.extend(_uris(event.get(key)))
    for key in ("quantityList", "inputQuantityList", "outputQuantityList", "childQuantityList"):
        found.extend(_classes(event.get(key)))
    if isinstance(event.get("parentID"), str):
        found.append(event["parentID"])
    return found


def input_epcs_of(event: dict[str, Any]) -> list[str]:
    if event.get("type") == "TransformationEvent":
        return _uris(event.get("inputEPCList")) + _classes(event.get("inputQuantityList"))
    return epcs_of(event)
