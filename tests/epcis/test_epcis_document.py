"""Parsing EPCIS 2.0 documents from the bytes received: every vector accepted, every rule tampered."""

from __future__ import annotations

import copy
import json
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from epcis_reference import VECTOR_FILES, event_list, load_vector

from provenance.epcis import EPCISValidationError, parse_document, validate_event
from provenance.errors import MalformedError

OBJECT_EVENTS = "Example_9.6.1-ObjectEvent.jsonld"


def _bytes(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


# --- Every vector -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: Path(p).stem)
def test_every_vector_is_accepted_unchanged(path: Path) -> None:
    data = path.read_bytes()
    document = parse_document(data)
    original = json.loads(data)
    assert document.document == original
    assert document.kind == original["type"]
    assert [e.event for e in document.events] == event_list(original)
    assert [e.index for e in document.events] == list(range(len(document.events)))
    assert all(e.context == original["@context"] for e in document.events)
    assert document.schema_version == "2.0"
    assert document.creation_date == original["creationDate"]


def test_the_query_document_gives_its_query_and_events() -> None:
    document = parse_document((VECTOR_FILES[0].parent / "EPCISQueryDocument.jsonld").read_bytes())
    assert document.kind == "EPCISQueryDocument"
    assert document.query_name == "SimpleEventQuery"
    assert document.subscription_id == "32d2aec1-a6d2-46d9-900a-24124288cce1"
    assert [e.type for e in document.events] == ["ObjectEvent", "ObjectEvent"]
    assert document.events[0].event_id == (
        "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0"
    )


def test_a_single_event_with_its_context_is_a_document_of_one() -> None:
    vector = load_vector(OBJECT_EVENTS)
    event = {"@context": vector["@context"], **event_list(vector)[0]}
    document = parse_document(_bytes(event))
    assert document.kind == "event"
    assert document.events[0].event is not None
    assert document.events[0].event == event
    assert document.schema_version is None


def test_kinds_limit_what_is_accepted() -> None:
    data = (VECTOR_FILES[0].parent / "EPCISQueryDocument.jsonld").read_bytes()
    with pytest.raises(
        EPCISValidationError, match="EPCISQueryDocument is not accepted here"
    ) as caught:
        parse_document(data, kinds={"EPCISDocument"})
    assert caught.value.field == "type"


def test_an_empty_event_list_is_a_document_without_events() -> None:
    vector = load_vector(OBJECT_EVENTS)
    vector["epcisBody"]["eventList"] = []
    assert parse_document(_bytes(vector)).events == ()


# --- Document-level rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "detail"),
    [
        (b"\xff\xfe{}", "document", "not UTF-8"),
        (b"{", "document", "not JSON"),
        (b"[]", "document", "must be a JSON object"),
        (b'{"type": "EPCISDocument", "type": "EPCISDocument"}', "document", "duplicate key 'type'"),
        (b'{"n": NaN}', "document", "NaN is not JSON"),
        (b'{"n": 1e400}', "document", "1e400 is out of range"),
        (b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "document", "nested too deeply"),
    ],
    ids=["utf8", "json", "array", "duplicate", "nan", "overflow", "depth"],
)
def test_bytes_that_are_not_one_json_object_are_refused(
    data: bytes, path: str, detail: str
) -> None:
    with pytest.raises(EPCISValidationError, match=re.escape(detail)) as caught:
        parse_document(data)
    assert caught.value.path == path
    assert caught.value.event_index is None


Mutation = Callable[[dict[str, Any]], Any]

DOCUMENT_RULES: list[tuple[str, Mutation, str, str]] = [
    ("missing type", lambda d: d.pop("type"), "type", "required field is missing"),
    (
        "unknown type",
        lambda d: d.update(type="EPCISMasterDataDocument"),
        "type",
        "must be EPCISDocument",
    ),
    ("missing context", lambda d: d.pop("@context"), "@context", "required field is missing"),
    ("bad context", lambda d: d.update({"@context": [1]}), "@context", "context URL"),
    ("empty context", lambda d: d.update({"@context": []}), "@context", "non-empty list"),
    ("missing schemaVersion", lambda d: d.pop("schemaVersion"), "schemaVersion", "required field"),
    ("old schemaVersion", lambda d: d.update(schemaVersion="1.2"), "schemaVersion", "'2.0'"),
    ("numeric schemaVersion", lambda d: d.update(schemaVersion=2), "schemaVersion", "'2.0'"),
    ("missing creationDate", lambda d: d.pop("creationDate"), "creationDate", "required field"),
    (
        "creationDate without offset",
        lambda d: d.update(creationDate="2005-07-11T11:30:47"),
        "creationDate",
        "offset",
    ),
    ("missing epcisBody", lambda d: d.pop("epcisBody"), "epcisBody", "required field"),
    ("epcisBody not object", lambda d: d.update(epcisBody=[]), "epcisBody", "JSON object"),
    (
        "missing eventList",
        lambda d: d["epcisBody"].pop("eventList"),
        "epcisBody.eventList",
        "required field",
    ),
    (
        "eventList not list",
        lambda d: d["epcisBody"].update(eventList={}),
        "epcisBody.eventList",
        "list of events",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "detail"),
    [pytest.param(m, p, d, id=name) for name, m, p, d in DOCUMENT_RULES],
)
def test_each_document_rule_names_its_field(mutate: Mutation, path: str, detail: str) -> None:
    document = load_vector(OBJECT_EVENTS)
    mutate(document)
    with pytest.raises(EPCISValidationError, match=re.escape(detail)) as caught:
        parse_document(_bytes(document))
    assert caught.value.path == path
    assert str(caught.value).startswith(path + ": ")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda b: b.pop("queryResults"), "epcisBody.queryResults"),
        (lambda b: b["queryResults"].pop("queryName"), "epcisBody.queryResults.queryName"),
        (
            lambda b: b["queryResults"].update(subscriptionID=7),
            "epcisBody.queryResults.subscriptionID",
        ),
        (lambda b: b["queryResults"].pop("resultsBody"), "epcisBody.queryResults.resultsBody"),
        (
            lambda b: b["queryResults"]["resultsBody"].pop("eventList"),
            "epcisBody.queryResults.resultsBody.eventList",
        ),
    ],
    ids=["queryResults", "queryName", "subscriptionID", "resultsBody", "eventList"],
)
def test_each_query_document_rule_names_its_field(mutate: Mutation, path: str) -> None:
    document = load_vector("EPCISQueryDocument.jsonld")
    mutate(document["epcisBody"])
    with pytest.raises(EPCISValidationError) as caught:
        parse_document(_bytes(document))
    assert caught.value.path == path


def test_a_query_documents_events_are_checked_with_their_path() -> None:
    document = load_vector("EPCISQueryDocument.jsonld")
    event_list(document)[1]["action"] = "MOVE"
    with pytest.raises(EPCISValidationError) as caught:
        parse_document(_bytes(document))
    assert caught.value.path == "epcisBody.queryResults.resultsBody.eventList[1].action"
    assert caught.value.event_index == 1


# --- Event-level rules --------------------------------------------------------------------------

SENSOR = "WithSensorData_SensorDataExample1.jsonld"
TRANSFORMATION = "Example_9.6.4-TransformationEvent.jsonld"
ASSOCIATION = "AssociationEvent_AssociationEvent-a.jsonld"
ERRORS = "WithErrorDeclaration_ErrorDeclarationAndCorrectiveEvent.jsonld"
FULL = "WithFullCombinationOfFields_object_event_all_possible_fields.jsonld"


def _set(key: str, value: Any) -> Mutation:
    return lambda e: e.__setitem__(key, value)


def _drop(key: str) -> Mutation:
    return lambda e: e.pop(key)


# (vector, event index, mutation, field named by the error, words in the message)
EVENT_RULES: list[tuple[str, str, int, Mutation, str, str]] = [
    ("missing type", OBJECT_EVENTS, 1, _drop("type"), "type", "required field is missing"),
    (
        "unknown type",
        OBJECT_EVENTS,
        1,
        _set("type", "QuantityEvent"),
        "type",
        "unknown event type 'QuantityEvent'",
    ),
    (
        "missing eventTime",
        OBJECT_EVENTS,
        1,
        _drop("eventTime"),
        "eventTime",
        "required field is missing",
    ),
    (
        "eventTime without offset",
        OBJECT_EVENTS,
        1,
        _set("eventTime", "2005-04-04T20:33:31.116"),
        "eventTime",
        "offset",
    ),
    (
        "eventTime not a time",
        OBJECT_EVENTS,
        1,
        _set("eventTime", "yesterday"),
        "eventTime",
        "'yesterday'",
    ),
    (
        "eventTime impossible",
        OBJECT_EVENTS,
        1,
        _set("eventTime", "2005-02-30T00:00:00Z"),
        "eventTime",
        "offset",
    ),
    (
        "eventTime a number",
        OBJECT_EVENTS,
        1,
        _set("eventTime", 1112668411),
        "eventTime",
        "1112668411",
    ),
    (
        "missing offset",
        OBJECT_EVENTS,
        1,
        _drop("eventTimeZoneOffset"),
        "eventTimeZoneOffset",
        "required field",
    ),
    (
        "offset out of range",
        OBJECT_EVENTS,
        1,
        _set("eventTimeZoneOffset", "+15:00"),
        "eventTimeZoneOffset",
        "'+15:00'",
    ),
    (
        "offset without sign",
        OBJECT_EVENTS,
        1,
        _set("eventTimeZoneOffset", "06:00"),
        "eventTimeZoneOffset",
        "offset",
    ),
    ("bad recordTime", OBJECT_EVENTS, 1, _set("recordTime", "2005-04-04"), "recordTime", "offset"),
    ("eventID not a URI", OBJECT_EVENTS, 1, _set("eventID", "event 7"), "eventID", "URI"),
    ("missing action", OBJECT_EVENTS, 1, _drop("action"), "action", "required field is missing"),
    (
        "bad action",
        OBJECT_EVENTS,
        1,
        _set("action", "MOVE"),
        "action",
        "ADD, OBSERVE or DELETE, not 'MOVE'",
    ),
    ("lowercase action", OBJECT_EVENTS, 1, _set("action", "add"), "action", "'add'"),
    (
        "action on transformation",
        TRANSFORMATION,
        0,
        _set("action", "ADD"),
        "action",
        "has no action",
    ),
    (
        "epcList not a list",
        OBJECT_EVENTS,
        1,
        _set("epcList", "urn:epc:id:sgtin:0614141.107346.2018"),
        "epcList",
        "must be a list",
    ),
    ("epcList item not a URI", OBJECT_EVENTS, 1, _set("epcList", ["2018"]), "epcList[0]", "URI"),
    ("epcList item not a string", OBJECT_EVENTS, 1, _set("epcList", [2018]), "epcList[0]", "URI"),
    (
        "field of another type",
        TRANSFORMATION,
        0,
        _set("epcList", []),
        "epcList",
        "not a field of TransformationEvent",
    ),
    (
        "childEPCs on an ObjectEvent",
        OBJECT_EVENTS,
        0,
        _set("childEPCs", []),
        "childEPCs",
        "not a field of ObjectEvent",
    ),
    (
        "quantity element not an object",
        TRANSFORMATION,
        0,
        lambda e: e["inputQuantityList"].__setitem__(1, 30),
        "inputQuantityList[1]",
        "JSON object",
    ),
    (
        "quantity without epcClass",
        TRANSFORMATION,
        0,
        lambda e: e["inputQuantityList"][1].pop("epcClass"),
        "inputQuantityList[1].epcClass",
        "required",
    ),
    (
        "quantity not a number",
        TRANSFORMATION,
        0,
        lambda e: e["inputQuantityList"][0].update(quantity="10"),
        "inputQuantityList[0].quantity",
        "number",
    ),
    (
        "quantity a boolean",
        TRANSFORMATION,
        0,
        lambda e: e["inputQuantityList"][0].update(quantity=True),
        "inputQuantityList[0].quantity",
        "number",
    ),
    (
        "uom without quantity",
        TRANSFORMATION,
        0,
        lambda e: e["inputQuantityList"][0].pop("quantity"),
        "inputQuantityList[0].uom",
        "needs a quantity",
    ),
    (
        "readPoint not an object",
        OBJECT_EVENTS,
        1,
        _set("readPoint", "urn:epc:id:sgln:0012345.11111.400"),
        "readPoint",
        "JSON object",
    ),
    ("readPoint without id", OBJECT_EVENTS, 1, _set("readPoint", {}), "readPoint.id", "required"),
    (
        "bizLocation id not a URI",
        OBJECT_EVENTS,
        1,
        _set("bizLocation", {"id": "shop"}),
        "bizLocation.id",
        "URI",
    ),
    ("bizStep not a string", OBJECT_EVENTS, 1, _set("bizStep", ["receiving"]), "bizStep", "string"),
    ("empty disposition", OBJECT_EVENTS, 1, _set("disposition", ""), "disposition", "string"),
    (
        "bizTransaction missing",
        OBJECT_EVENTS,
        1,
        lambda e: e["bizTransactionList"][1].pop("bizTransaction"),
        "bizTransactionList[1].bizTransaction",
        "required",
    ),
    (
        "bizTransactionList not a list",
        OBJECT_EVENTS,
        1,
        _set("bizTransactionList", {}),
        "bizTransactionList",
        "list",
    ),
    (
        "source without type",
        FULL,
        0,
        lambda e: e["sourceList"][2].pop("type"),
        "sourceList[2].type",
        "required",
    ),
    (
        "destination without id",
        FULL,
        0,
        lambda e: e["destinationList"][0].pop("destination"),
        "destinationList[0].destination",
        "required",
    ),
    (
        "sensor element without reports",
        SENSOR,
        0,
        lambda e: e["sensorElementList"][2].pop("sensorReport"),
        "sensorElementList[2].sensorReport",
        "required",
    ),
    (
        "sensor element with no report",
        SENSOR,
        0,
        lambda e: e["sensorElementList"][0].update(sensorReport=[]),
        "sensorElementList[0].sensorReport",
        "at least one",
    ),
    (
        "sensor report not an object",
        SENSOR,
        0,
        lambda e: e["sensorElementList"][1]["sensorReport"].__setitem__(3, 801.0),
        "sensorElementList[1].sensorReport[3]",
        "JSON object",
    ),
    (
        "sensor metadata time",
        SENSOR,
        0,
        lambda e: e["sensorElementList"][0]["sensorMetadata"].update(time="14:05"),
        "sensorElementList[0].sensorMetadata.time",
        "offset",
    ),
    (
        "error declaration without time",
        ERRORS,
        0,
        lambda e: e["errorDeclaration"].pop("declarationTime"),
        "errorDeclaration.declarationTime",
        "required",
    ),
    (
        "corrective ids not a list",
        ERRORS,
        0,
        lambda e: e["errorDeclaration"].update(correctiveEventIDs="urn:uuid:1"),
        "errorDeclaration.correctiveEventIDs",
        "list",
    ),
    (
        "corrective id not a URI",
        ERRORS,
        0,
        lambda e: e["errorDeclaration"].update(correctiveEventIDs=["404d95fc"]),
        "errorDeclaration.correctiveEventIDs[0]",
        "URI",
    ),
    (
        "errorDeclaration not an object",
        ERRORS,
        0,
        _set("errorDeclaration", "incorrect_data"),
        "errorDeclaration",
        "JSON object",
    ),
    (
        "certificationInfo not a URI",
        FULL,
        0,
        _set("certificationInfo", "ABC12345"),
        "certificationInfo",
        "URI",
    ),
    (
        "persistentDisposition empty",
        FULL,
        0,
        _set("persistentDisposition", {}),
        "persistentDisposition",
        "set or an unset",
    ),
    (
        "persistentDisposition not a list",
        FULL,
        0,
        lambda e: e["persistentDisposition"].update(set="damaged"),
        "persistentDisposition.set",
        "list",
    ),
    ("ilmd not an object", TRANSFORMATION, 0, _set("ilmd", []), "ilmd", "JSON object"),
    ("ilmd on OBSERVE", FULL, 0, _set("action", "OBSERVE"), "ilmd", "ADD events only"),
    (
        "association without parent",
        ASSOCIATION,
        0,
        _drop("parentID"),
        "parentID",
        "an AssociationEvent has one",
    ),
    (
        "aggregation ADD without parent",
        ASSOCIATION,
        0,
        lambda e: e.update(type="AggregationEvent") or e.pop("parentID"),
        "parentID",
        "AggregationEvent with ADD",
    ),
    (
        "transaction without transactions",
        OBJECT_EVENTS,
        0,
        lambda e: e.update(type="TransactionEvent", bizTransactionList=[]),
        "bizTransactionList",
        "at least one",
    ),
    (
        "transformation without inputs or outputs",
        TRANSFORMATION,
        0,
        lambda e: [e.pop(k) for k in ("inputEPCList", "inputQuantityList", "outputEPCList")],
        "inputEPCList",
        "an input or an output",
    ),
]


@pytest.mark.parametrize(
    ("vector", "index", "mutate", "field", "detail"),
    [pytest.param(v, i, m, f, d, id=name) for name, v, i, m, f, d in EVENT_RULES],
)
def test_each_event_rule_names_the_event_and_the_field(
    vector: str, index: int, mutate: Mutation, field: str, detail: str
) -> None:
    document = load_vector(vector)
    mutate(event_list(document)[index])
    with pytest.raises(EPCISValidationError, match=re.escape(detail)) as caught:
        parse_document(_bytes(document))
    error = caught.value
    assert error.event_index == index
    assert error.field == field
    assert error.path == f"epcisBody.eventList[{index}].{field}".replace(".[", "[")
    assert str(error).startswith(f"epcisBody.eventList[{index}].")


def test_an_event_that_is_not_an_object_is_named_by_its_index() -> None:
    document = load_vector(OBJECT_EVENTS)
    document["epcisBody"]["eventList"].append("ObjectEvent")
    with pytest.raises(EPCISValidationError, match="must be a JSON object") as caught:
        parse_document(_bytes(document))
    assert caught.value.path == "epcisBody.eventList[2]"
    assert caught.value.event_index == 2


def test_extensions_and_unknown_fields_are_kept_not_judged() -> None:
    document = load_vector(OBJECT_EVENTS)
    event = event_list(document)[0]
    event["example:anything"] = {"nested": [1, None, True]}
    event["vendorNote"] = "kept"
    parsed = parse_document(_bytes(document))
    assert parsed.events[0].event == event


def test_validate_event_alone_names_the_field() -> None:
    event = copy.deepcopy(event_list(load_vector(OBJECT_EVENTS))[0])
    validate_event(event)
    event["action"] = "MOVE"
    with pytest.raises(EPCISValidationError) as caught:
        validate_event(event)
    assert (caught.value.path, caught.value.field, caught.value.event_index) == (
        "action",
        "action",
        None,
    )


def test_the_error_is_a_malformed_error_with_a_stable_code_and_survives_pickling() -> None:
    error = EPCISValidationError("epcisBody.eventList[1].action", "bad", 1, "action")
    assert isinstance(error, MalformedError)
    assert (error.code, error.status) == ("invalid-epcis", 400)
    copied = pickle.loads(pickle.dumps(error))
    assert (copied.path, copied.detail, copied.event_index, copied.field) == (
        "epcisBody.eventList[1].action",
        "bad",
        1,
        "action",
    )
    assert str(copied) == str(error)
