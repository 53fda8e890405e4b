"""Events built after the examples published with the GS1 EPCIS 2.0 standard (section 9.6 and
the JSON-LD example files of gs1/EPCIS): one of every event type, the standard's identifiers
(SGTIN, SSCC, GRAI, GIAI, LGTIN URNs and GS1 Digital Link), a user extension, sensor data with
`sensor_reporting`, and an event without an eventID (optional in the standard)."""

from __future__ import annotations

import copy
from typing import Any

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "http://ns.example.com/epcis/"},
]

EVENTS: list[dict[str, Any]] = [
    {
        "type": "ObjectEvent",
        "eventID": "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0",
        "eventTime": "2005-04-03T20:33:31.116-06:00",
        "eventTimeZoneOffset": "-06:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
        "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}],
    },
    {
        "type": "ObjectEvent",
        "eventTime": "2005-04-04T20:33:31.116-06:00",
        "eventTimeZoneOffset": "-06:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"],
        "action": "OBSERVE",
        "bizStep": "receiving",
        "disposition": "in_progress",
        "readPoint": {"id": "urn:epc:id:sgln:0012345.11111.400"},
        "bizLocation": {"id": "urn:epc:id:sgln:0012345.11111.0"},
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"},
            {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1152"},
        ],
        "example:myField": "Example of a vendor/user extension",
    },
    {
        "type": "AggregationEvent",
        "eventID": "urn:uuid:6b1b2cbd-7c2c-4b8c-9a3f-0a4d2e7a1001",
        "eventTime": "2013-06-08T14:58:56.591Z",
        "eventTimeZoneOffset": "+02:00",
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
        "action": "OBSERVE",
        "bizStep": "receiving",
        "disposition": "in_progress",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"},
        "childQuantityList": [
            {"epcClass": "urn:epc:idpat:sgtin:4012345.098765.*", "quantity": 10},
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200.5, "uom": "KGM"},
        ],
    },
    {
        "type": "TransactionEvent",
        "eventID": "urn:uuid:6b1b2cbd-7c2c-4b8c-9a3f-0a4d2e7a1002",
        "eventTime": "2005-04-03T20:33:31.116-06:00",
        "eventTimeZoneOffset": "-06:00",
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"},
            {"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:1152"},
        ],
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
        "action": "ADD",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    },
    {
        "type": "TransformationEvent",
        "eventID": "urn:uuid:6b1b2cbd-7c2c-4b8c-9a3f-0a4d2e7a1003",
        "eventTime": "2013-10-31T14:58:56.591Z",
        "eventTimeZoneOffset": "+02:00",
        "inputEPCList": ["urn:epc:id:sgtin:4012345.011122.25", "urn:epc:id:sgtin:4000001.065432.99886655"],
        "inputQuantityList": [
            {"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 10, "uom": "KGM"},
            {"epcClass": "urn:epc:class:lgtin:0614141.077777.987", "quantity": 30},
        ],
        "outputEPCList": ["urn:epc:id:sgtin:4012345.077889.25", "urn:epc:id:sgtin:4012345.077889.26"],
        "transformationID": "urn:epc:id:gdti:0614141.12345.400",
        "bizStep": "commissioning",
        "disposition": "in_progress",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        "ilmd": {"example:bestBeforeDate": "2014-12-10", "example:batch": "XYZ"},
    },
    {
        "type": "AssociationEvent",
        "eventID": "urn:uuid:6b1b2cbd-7c2c-4b8c-9a3f-0a4d2e7a1004",
        "eventTime": "2019-11-01T14:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "parentID": "urn:epc:id:grai:4012345.55555.987",
        "childEPCs": ["urn:epc:id:giai:4000001.12345"],
        "action": "ADD",
        "bizStep": "assembling",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
    },
    {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:6b1b2cbd-7c2c-4b8c-9a3f-0a4d2e7a1005",
        "eventTime": "2019-04-02T14:05:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["https://id.gs1.org/00/106141412345678908"],
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        "readPoint": {"id": "https://id.gs1.org/414/4012345000054"},
        "sensorElementList": [
            {
                "sensorMetadata": {
                    "time": "2019-04-02T13:05:00.000Z",
                    "deviceID": "urn:epc:id:giai:4000001.111",
                    "deviceMetadata": "https://id.gs1.org/giai/4000001111",
                    "rawData": "https://example.org/giai/401234599999",
                    "dataProcessingMethod": "https://example.com/gdti/4012345000054987",
                    "bizRules": "https://example.com/gdti/4012345000054987",
                },
                "sensorReport": [
                    {"type": "gs1:Temperature", "value": 26, "uom": "CEL"},
                    {"type": "gs1:AbsoluteHumidity", "value": 12.1, "uom": "A93"},
                    {"type": "gs1:Speed", "value": 160, "uom": "KMH"},
                    {"type": "gs1:Illuminance", "value": 800, "uom": "LUX"},
                    {
                        "type": "gs1:Temperature",
                        "exception": "ALARM_CONDITION",
                        "minValue": 2,
                        "maxValue": 11.5,
                        "uom": "CEL",
                    },
                ],
            }
        ],
        "certificationInfo": "https://accreditation-council.example.org/certificate/ABC12345",
    },
    {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:6b1b2cbd-7c2c-4b8c-9a3f-0a4d2e7a1006",
        "eventTime": "2020-03-04T11:00:30.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "quantityList": [
            {"epcClass": "https://id.gs1.org/01/04012345000113/10/A1", "quantity": 2500, "uom": "KGM"},
        ],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "persistentDisposition": {"set": ["completeness_verified"]},
        "bizLocation": {"id": "https://id.gs1.org/414/4012345000016"},
        "ilmd": {"cbvmda:lotNumber": "A1", "cbvmda:itemExpirationDate": "2020-06-30"},
    },
]


def document(events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "@context": copy.deepcopy(CONTEXT),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2005-07-11T11:30:47.0Z",
        "epcisBody": {"eventList": copy.deepcopy(events if events is not None else EVENTS)},
    }
