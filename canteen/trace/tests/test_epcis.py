"""EPCIS 2.0: every export validates against the official GS1 schema with format checks on and
speaks CBV 2.0 with GS1 keys; any valid document imports and comes back unchanged; hostile
documents are refused with a clear error and change nothing."""

import copy
import json

import jsonschema
import pytest

from canteen.org.choices import Role
from canteen.procurement import services as proc
from canteen.procurement.choices import MealKind
from canteen.trace import epcis, gs1, selectors, services
from canteen.trace.errors import EpcisImportRejected
from canteen.trace.keys import KeyBook, gs1_key_register, product_subject
from canteen.trace.models import EpcisEvent, TraceCode

from . import gs1_examples
from .conftest import deliver_and_accept

pytestmark = pytest.mark.django_db


def _export(journey, *codes):
    return selectors.epcis_export(
        actor=journey.world.user(Role.DISTRICT_REGULATOR), codes=list(codes) or [journey.pork_code]
    )


def _official() -> str:
    path = epcis.official_schema_path()
    assert path is not None, "the official EPCIS 2.0 schema (shared/standards/gs1-epcis-2.0) must be found"
    return str(path)


def test_format_checks_are_on_with_the_official_schema():
    """Without rfc3987 / rfc3339-validator jsonschema passes every "uri" and "date-time": the
    schema would accept `transforming` as a business step and 30 February as a date."""
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    for fmt in ("uri", "date-time"):
        assert fmt in checker.checkers, f"format {fmt!r} is not checked: install requirements/trace.txt"
    assert epcis.schema_paths() == [_official()]
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-02-27T10:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
    }
    good = gs1_examples.document([event])
    assert epcis.validate_document(good) == []
    for field, value in (("bizStep", "transforming"), ("eventTime", "2026-02-30T10:00:00+08:00")):
        bad = copy.deepcopy(good)
        bad["epcisBody"]["eventList"][0][field] = value
        assert epcis.validate_document(bad), f"{field}={value} passed the schema"


def _second_delivery_with_a_failed_test(journey, world):
    """The same supplier delivers the same lots to a second campus, which serves the pork at dinner."""
    made = deliver_and_accept(
        world,
        campus=world.campuses[1],
        supplier=journey.supplier,
        items=(journey.extra["cabbage"], journey.extra["pork"]),
        cabbage_tests=[{"test": "pesticide_residue", "value": "31.5", "unit": "%", "passed": True}],
    )
    proc.stock_issue(
        actor=world.user(Role.STOREKEEPER),
        campus=world.campuses[1],
        item=journey.extra["pork"],
        quantity="3",
        day=journey.day,
        meal_kind=MealKind.DINNER,
        dish_name="红烧肉",
    )
    return made


def test_every_document_of_a_seeded_district_is_valid_and_speaks_gs1(journey, world):
    _second_delivery_with_a_failed_test(journey, world)
    official = [_official()]
    codes = list(TraceCode.objects.all())
    assert len(codes) == 4
    documents = [_export(journey, code) for code in codes] + [_export(journey, *codes)]
    for doc in documents:
        assert epcis.validate_document(doc, paths=official) == []
    events = documents[-1]["epcisBody"]["eventList"]
    steps = {e["bizStep"] for e in events}
    assert steps == {"shipping", "transporting", "receiving", "inspecting", "storing", "commissioning"}
    for event in events:
        # Where it happened: China, +08:00, and the time says so too.
        assert event["eventTimeZoneOffset"] == "+08:00"
        assert event["eventTime"].endswith("+08:00")
        for place in (event.get("readPoint"), event.get("bizLocation")):
            if place:
                assert place["id"].startswith("urn:epc:id:sgln:04"), place
        for party in event.get("sourceList", []) + event.get("destinationList", []):
            uri = party.get("source") or party.get("destination")
            assert uri.startswith(("urn:epc:id:pgln:04", "urn:epc:id:sgln:04")), uri
        for quantity in event.get("quantityList", []) + event.get("inputQuantityList", []):
            key = gs1.parse(quantity["epcClass"])
            assert key.kind == "lot"
            assert gs1.is_valid_key(key.gtin, 14)
            assert key.gtin.startswith("004"), "internal GTINs use GS1 Prefix 04, never 02"
    cooking = [e for e in events if e["type"] == "TransformationEvent"]
    assert {e["bizStep"] for e in cooking} == {"commissioning"}
    lunch = next(e for e in cooking if len(e["inputQuantityList"]) == 2)
    assert all(uri.startswith("urn:canteen:dish:") and uri.isascii() for uri in lunch["outputEPCList"])

    transporting = next(e for e in events if e["bizStep"] == "transporting")
    element = transporting["sensorElementList"][0]
    readings = [r for r in element["sensorReport"] if "canteen:breachMinutes" not in r]
    assert len(readings) == 14
    assert {(r["canteen:lowerLimit"], r["canteen:upperLimit"]) for r in readings} == {(0.0, 4.0)}
    alarms = [r["value"] for r in readings if r.get("exception") == "ALARM_CONDITION"]
    assert alarms == [6.5, 7.8, 8.4, 7.1, 6.0]
    (breach,) = [r for r in element["sensorReport"] if "canteen:breachMinutes" in r]
    assert breach["exception"] == "ALARM_CONDITION"
    assert breach["value"] == 8.4
    assert breach["canteen:breachMinutes"] >= 15

    inspections = [e for e in events if e["bizStep"] == "inspecting"]
    assert all(e["certificationInfo"][0].endswith("/qc") for e in inspections)  # the QC report
    assert {e["disposition"] for e in inspections} == {"conformant"}
    tests = [r for e in inspections for r in e["sensorElementList"][0]["sensorReport"] if "booleanValue" in r]
    assert sorted((r["value"], r["uom"], r["booleanValue"]) for r in tests) == [(12.5, "P1", True), (31.5, "P1", True)]
    assert not any("exception" in r for r in tests)
    arrival = [
        r for e in inspections for r in e["sensorElementList"][0]["sensorReport"] if r["type"] == "gs1:Temperature"
    ]
    assert {r["value"] for r in arrival} == {3.5}
    receiving = next(e for e in events if e["bizStep"] == "receiving" and e["ilmd"]["cbvmda:lotNumber"] == "PK-7788")
    assert receiving["ilmd"]["canteen:producer"].startswith("urn:epc:id:pgln:04")
    text = json.dumps(documents[-1], ensure_ascii=False)
    for secret in ("司机王师傅", "13912345678", "库管李四", "urn:canteen:campus", "urn:canteen:supplier", "02000"):
        assert secret not in text


def test_two_producers_lots_never_merge_and_a_registered_gtin_is_used(journey, world, api_client):
    book = KeyBook(world.districts[0].pk)
    item = journey.extra["pork"].pk
    first, second = book.product_gtin(item, "荆州肉联厂"), book.product_gtin(item, "公安县屠宰场")
    assert first != second
    assert all(gs1.is_valid_key(g, 14) for g in (first, second))
    gs1_key_register(
        actor=world.user(Role.DISTRICT_REGULATOR),
        district_id=world.districts[0].pk,
        kind="gtin",
        subject=product_subject(item, "荆州肉联厂"),
        number="6901234567892",
        company_prefix_length=7,
    )
    assert KeyBook(world.districts[0].pk).product_gtin(item, " 荆州肉联厂 ") == "06901234567892"
    # the API, for the supplier's GLN; a new trace code then carries the producer's GTIN
    api_client.force_authenticate(world.user(Role.DISTRICT_REGULATOR))
    gln = "6901234000016"
    made = api_client.post(
        "/api/v1/trace/gs1-keys/",
        {"kind": "gln", "number": gln, "subject": f"supplier:{journey.supplier.pk}", "company_prefix_length": 7},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert KeyBook(world.districts[0].pk).supplier_party(journey.supplier.pk) == "urn:epc:id:pgln:6901234.00001"
    api_client.force_authenticate(world.user(Role.STOREKEEPER))
    assert api_client.post("/api/v1/trace/gs1-keys/", {"kind": "gln", "number": gln}, format="json").status_code in (
        400,
        403,
    )
    with pytest.raises(Exception, match="check digit"):
        gs1_key_register(
            actor=world.user(Role.DISTRICT_REGULATOR),
            district_id=world.districts[0].pk,
            kind="gln",
            subject="supplier:x",
            number="6901234567890",
        )


def test_reimporting_our_own_export_changes_nothing(journey):
    doc = _export(journey, journey.pork_code, journey.cabbage_code)
    before = EpcisEvent.objects.count()
    result = services.epcis_import(
        actor=journey.world.user(Role.DISTRICT_REGULATOR),
        raw=json.dumps(doc).encode(),
        district_id=journey.world.districts[0].pk,
    )
    assert result["imported"] == 0
    assert result["unchanged"] == len(doc["epcisBody"]["eventList"])
    assert EpcisEvent.objects.count() == before
    assert _export(journey, journey.pork_code, journey.cabbage_code)["epcisBody"] == doc["epcisBody"]


def test_the_standards_examples_import_and_come_back_unchanged(journey, api_client):
    regulator = journey.world.user(Role.DISTRICT_REGULATOR)
    api_client.force_authenticate(regulator)
    doc = gs1_examples.document()
    assert epcis.validate_document(doc, paths=[_official()]) == []
    response = api_client.post("/api/v1/trace/epcis/capture", data=json.dumps(doc), content_type="application/ld+json")
    assert response.status_code == 202, response.content
    assert response.json()["imported"] == len(gs1_examples.EVENTS)
    job = api_client.get(response["Location"].removeprefix("http://testserver"))
    assert job.status_code == 200
    assert job.json()["success"] is True
    assert job.json()["captureID"] == response.json()["captureID"]
    assert len(response.json()["unlinked"]) == len(gs1_examples.EVENTS)  # none names a batch of ours
    assert {e["type"] for e in gs1_examples.EVENTS} == set(epcis.EVENT_TYPES)
    got = api_client.get(
        "/api/v1/trace/epcis/events", {"GE_eventTime": "2000-01-01T00:00:00Z", "LT_eventTime": "2021-01-01T00:00:00Z"}
    )
    assert got.status_code == 200
    body = got.json()
    assert epcis.validate_document(body, paths=[_official()]) == []
    returned = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(returned) == len(gs1_examples.EVENTS)
    for event in gs1_examples.EVENTS:
        assert event in returned  # unchanged, extension fields and all
    # the query's own filters, standard names
    sensor = api_client.get("/api/v1/trace/epcis/events", {"EQ_bizStep": "sensor_reporting"}).json()
    assert [e["bizStep"] for e in sensor["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == [
        "sensor_reporting"
    ]
    as_uri = api_client.get(
        "/api/v1/trace/epcis/events", {"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-sensor_reporting"}
    )
    assert (
        as_uri.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        == sensor["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    )
    agg = api_client.get("/api/v1/trace/epcis/events", {"eventType": "AggregationEvent,AssociationEvent"}).json()
    assert {e["type"] for e in agg["epcisBody"]["queryResults"]["resultsBody"]["eventList"]} == {
        "AggregationEvent",
        "AssociationEvent",
    }
    assert api_client.get("/api/v1/trace/epcis/events", {"EQ_nonsense": "1"}).status_code == 400
    assert api_client.get("/api/v1/trace/epcis/events", {"GE_eventTime": "2026-02-30T00:00:00Z"}).status_code == 400
    # sending the same document again is idempotent
    again = api_client.post("/api/v1/trace/epcis/capture", data=json.dumps(doc), content_type="application/ld+json")
    assert again.status_code == 202
    assert again.json()["imported"] == 0
    assert again.json()["unchanged"] == len(gs1_examples.EVENTS)


def test_our_lot_in_urn_and_digital_link_form_is_linked(journey):
    code = journey.pork_code
    forms = [
        gs1.lgtin(code.gtin, code.lot),
        f"https://id.gs1.org/01/{code.gtin}/10/{code.lot}",
        services.batch_class_uri(code),
    ]
    events = [
        {
            "type": "ObjectEvent",
            "eventID": f"urn:uuid:11111111-2222-4333-8444-55555555555{i}",
            "eventTime": "2026-11-20T06:00:00+08:00",
            "eventTimeZoneOffset": "+08:00",
            "action": "OBSERVE",
            "bizStep": "sensor_reporting",
            "quantityList": [{"epcClass": uri, "quantity": 200, "uom": "KGM"}],
        }
        for i, uri in enumerate(forms)
    ]
    result = services.epcis_import(
        actor=journey.world.user(Role.DISTRICT_REGULATOR),
        raw=json.dumps(epcis.document(events, created=journey.delivery.dispatched_at)),
        district_id=journey.world.districts[0].pk,
    )
    assert result["imported"] == 3
    assert result["unlinked"] == []
    exported = _export(journey)["epcisBody"]["eventList"]
    for event in events:
        assert event in exported


def _transport_event(journey) -> dict:
    doc = _export(journey)
    return next(e for e in doc["epcisBody"]["eventList"] if e["bizStep"] == "transporting")


def test_an_import_cannot_rewrite_a_recorded_event(journey, client):
    """A supplier tries to turn the 8.4 °C peak into 3.0 °C under the same eventID: refused.
    Its correction is the standard error declaration, stored beside the original, which every
    export still shows as recorded; the public page shows both."""
    regulator = journey.world.user(Role.DISTRICT_REGULATOR)
    district = journey.world.districts[0].pk
    original = _transport_event(journey)
    forged = copy.deepcopy(original)
    for report in forged["sensorElementList"][0]["sensorReport"]:
        report["value"] = min(report["value"], 3.0)
        report.pop("exception", None)
    captured = next(e for e in _export(journey)["epcisBody"]["eventList"] if e["bizStep"] == "inspecting")
    forged_check = {**copy.deepcopy(captured), "disposition": "conformant", "sensorElementList": []}
    forged_check.pop("sensorElementList")
    for forgery in (forged, forged_check):
        before = EpcisEvent.objects.count()
        with pytest.raises(EpcisImportRejected) as caught:
            services.epcis_import(
                actor=regulator,
                raw=json.dumps(epcis.document([forgery], created=journey.delivery.dispatched_at)),
                district_id=district,
            )
        (problem,) = caught.value.details["events"]
        assert problem["eventID"] == forgery["eventID"]
        assert "errorDeclaration" in problem["errors"][0]
        assert EpcisEvent.objects.count() == before
    assert _transport_event(journey) == original

    corrective = copy.deepcopy(forged)
    corrective["eventID"] = "urn:uuid:c0000000-0000-4000-8000-000000000001"
    declaration = {
        **copy.deepcopy(original),
        "errorDeclaration": {
            "declarationTime": "2026-12-08T09:00:00+08:00",
            "reason": "incorrect_data",
            "correctiveEventIDs": [corrective["eventID"]],
        },
    }
    result = services.epcis_import(
        actor=regulator,
        raw=json.dumps(epcis.document([declaration, corrective], created=journey.delivery.dispatched_at)),
        district_id=district,
    )
    assert result["imported"] == 2
    assert result["corrections"] == [original["eventID"]]
    exported = _export(journey)["epcisBody"]["eventList"]
    assert original in exported
    assert declaration in exported
    assert corrective in exported
    assert epcis.validate_document(_export(journey), paths=[_official()]) == []
    page = client.get(f"/t/{journey.pork_code.code}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="corrections"' in html
    assert "incorrect_data" in html


def _base_event(journey):
    return {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:aaaaaaaa-2222-4333-8444-555555555555",
        "eventTime": "2026-11-20T06:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "quantityList": [{"epcClass": services.batch_class_uri(journey.cabbage_code), "quantity": 1}],
    }


def _hostile_documents(journey):
    good = epcis.document([_base_event(journey)], created=journey.delivery.dispatched_at)

    def changed(**fields):
        doc = copy.deepcopy(good)
        doc["epcisBody"]["eventList"][0].update(fields)
        return json.dumps(doc)

    wrong_type = copy.deepcopy(good)
    wrong_type["epcisBody"]["eventList"][0]["quantityList"][0]["quantity"] = "lots"
    duplicated = copy.deepcopy(good)
    duplicated["epcisBody"]["eventList"].append(copy.deepcopy(good["epcisBody"]["eventList"][0]))
    half_bad = copy.deepcopy(good)
    second = copy.deepcopy(good["epcisBody"]["eventList"][0])
    second["eventID"] = "urn:uuid:bbbbbbbb-2222-4333-8444-555555555555"
    second["eventTime"] = "yesterday"
    half_bad["epcisBody"]["eventList"].append(second)
    return {
        "malformed": b'{"type": "EPCISDocument", ',
        "not utf-8": b"\xff\xfe\x00{",
        "array": b"[]",
        "wrong type": json.dumps(wrong_type),
        "duplicated ids": json.dumps(duplicated),
        "one bad event of two": json.dumps(half_bad),
        "30 February": changed(eventTime="2026-02-30T10:00:00+08:00"),
        "hour 25": changed(eventTime="2026-02-03T25:00:00+08:00"),
        "no offset": changed(eventTime="2026-02-03T10:00:00"),
        "not a CBV step": changed(bizStep="transforming"),
        "bad declaration time": changed(errorDeclaration={"declarationTime": "2026-13-01T00:00:00Z"}),
        "json bomb (depth)": "[" * 100000 + "]" * 100000,
        "huge": b'{"x": "' + b"a" * (epcis.max_document_bytes() + 10) + b'"}',
        "NaN": json.dumps(good).replace('"quantity": 1', '"quantity": NaN'),
        "duplicate keys": json.dumps(good).replace('"action": "OBSERVE"', '"action": "OBSERVE", "action": "ADD"'),
        "empty": b"",
        "no events": json.dumps(epcis.document([], created=journey.delivery.dispatched_at)),
    }


def test_hostile_imports_are_rejected_and_change_nothing(journey):
    actor = journey.world.user(Role.DISTRICT_REGULATOR)
    district = journey.world.districts[0].pk
    before = EpcisEvent.objects.count()
    for name, raw in _hostile_documents(journey).items():
        with pytest.raises(EpcisImportRejected) as caught:
            services.epcis_import(actor=actor, raw=raw, district_id=district)
        assert caught.value.details.get("reason"), name
        assert EpcisEvent.objects.count() == before, name


def test_impossible_dates_are_a_clear_4xx_on_the_api_and_the_upload_page(journey, api_client, client):
    regulator = journey.world.user(Role.DISTRICT_REGULATOR)
    api_client.force_authenticate(regulator)
    client.force_login(regulator)
    for when in ("2026-02-30T10:00:00+08:00", "2026-02-03T25:00:00+08:00"):
        event = {**_base_event(journey), "eventTime": when}
        raw = json.dumps(epcis.document([event], created=journey.delivery.dispatched_at))
        for url in ("/api/v1/trace/epcis/", "/api/v1/trace/epcis/capture"):
            response = api_client.post(url, data=raw, content_type="application/ld+json")
            assert response.status_code == 422, response.content
            if url.endswith("capture"):
                failed = api_client.get(f"{url}/{response.json()['error']['details']['captureID']}").json()
                assert failed["success"] is False
                assert failed["errors"][1]["index"] == 0
            (problem,) = response.json()["error"]["details"]["events"]
            assert problem["index"] == 0
            assert problem["eventID"] == event["eventID"]
            assert any("eventTime" in m for m in problem["errors"])
        from django.core.files.uploadedfile import SimpleUploadedFile

        page = client.post("/trace/epcis/import/", {"document": SimpleUploadedFile("e.jsonld", raw.encode())})
        assert page.status_code == 422
        assert 'data-testid="import-event-errors"' in page.content.decode()
    assert not EpcisEvent.objects.filter(imported=True).exists()


def test_another_districts_import_never_touches_our_batches(journey):
    doc = epcis.document([_base_event(journey)], created=journey.delivery.dispatched_at)
    result = services.epcis_import(
        actor=journey.world.user(Role.CITY_REGULATOR), raw=json.dumps(doc), district_id=journey.world.districts[1].pk
    )
    assert result["unlinked"] == [_base_event(journey)["eventID"]]
    assert _base_event(journey) not in _export(journey, journey.cabbage_code)["epcisBody"]["eventList"]


def test_import_api_needs_a_regulator_and_reports_errors(journey, api_client):
    api_client.force_authenticate(journey.world.user(Role.STOREKEEPER))
    response = api_client.post("/api/v1/trace/epcis/", data=b"{}", content_type="application/json")
    assert response.status_code == 403
    assert (
        api_client.post("/api/v1/trace/epcis/capture", data=b"{}", content_type="application/json").status_code == 403
    )
    api_client.force_authenticate(journey.world.user(Role.DISTRICT_REGULATOR))
    response = api_client.post("/api/v1/trace/epcis/", data=b'{"oops"', content_type="application/ld+json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "epcis_import_rejected"
    response = api_client.get(f"/api/v1/trace/epcis/?codes={journey.pork_code.code}")
    assert response.status_code == 200
    assert epcis.validate_document(response.json(), paths=[_official()]) == []


def test_the_event_query_is_scoped_by_role(journey, world, api_client):
    """A supplier's system pushes events about its own batches and pulls what concerns them;
    it cannot write about another supplier's batch; a guardian sees nothing."""
    from canteen.org.tests.factories import make_user
    from canteen.procurement.tests.factories import make_supplier

    supplier_user = world.user(Role.SUPPLIER_USER)
    api_client.force_authenticate(supplier_user)
    own = {**_base_event(journey), "bizStep": "sensor_reporting"}
    pushed = api_client.post(
        "/api/v1/trace/epcis/capture",
        data=json.dumps(epcis.document([own], created=journey.delivery.dispatched_at)),
        content_type="application/ld+json",
    )
    assert pushed.status_code == 202, pushed.content
    lot = services.batch_class_uri(journey.pork_code)
    pulled = api_client.get("/api/v1/trace/epcis/events", {"MATCH_epcClass": lot}).json()
    steps = {e["bizStep"] for e in pulled["epcisBody"]["queryResults"]["resultsBody"]["eventList"]}
    assert {"receiving", "transporting", "commissioning"} <= steps

    other_user = make_user("other-supplier", Role.SUPPLIER_USER)
    make_supplier(world, user=other_user, name="另一家供应商")
    api_client.force_authenticate(other_user)
    forged = {**own, "eventID": "urn:uuid:dddddddd-2222-4333-8444-555555555555"}
    refused = api_client.post(
        "/api/v1/trace/epcis/capture",
        data=json.dumps(epcis.document([forged], created=journey.delivery.dispatched_at)),
        content_type="application/ld+json",
    )
    assert refused.status_code == 422
    assert "did not supply" in refused.json()["error"]["details"]["events"][0]["errors"][0]
    seen = api_client.get("/api/v1/trace/epcis/events").json()
    assert seen["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []

    api_client.force_authenticate(world.user(Role.GUARDIAN))
    guardian = api_client.get("/api/v1/trace/epcis/events", {"MATCH_epcClass": lot}).json()
    assert guardian["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
