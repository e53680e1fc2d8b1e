"""The CBV 2.0 event hash equals the reference implementation's, and changes exactly when it should."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from epcis_reference import (
    VECTOR_FILES,
    event_list,
    load_vector,
    reference_hashes,
    reference_pre_hashes,
    single_event_document,
)

from provenance.epcis import event_hash, event_id, is_timestamp, parse_timestamp, pre_hash_string
from provenance.epcis.event_hash import EXCLUDED_FIELDS, HASH_ALGORITHMS

NI_SHA256 = re.compile(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0")

VECTOR_EVENTS = [
    pytest.param(path.name, index, id=f"{path.stem}[{index}]")
    for path in VECTOR_FILES
    for index in range(len(event_list(load_vector(path.name))))
]


def _vector_event(name: str, index: int) -> tuple[dict[str, Any], Any]:
    document = load_vector(name)
    return event_list(document)[index], document["@context"]


# --- Agreement with the reference ---------------------------------------------------------------


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: Path(p).stem)
def test_every_vector_event_hashes_as_the_reference_does(path: Path) -> None:
    document = load_vector(path.name)
    ours = [event_hash(event, document["@context"]) for event in event_list(document)]
    assert ours == reference_hashes(document)
    assert all(NI_SHA256.fullmatch(h) for h in ours)


@pytest.mark.parametrize(("name", "index"), VECTOR_EVENTS)
def test_pre_hash_string_equals_the_references(name: str, index: int) -> None:
    event, context = _vector_event(name, index)
    assert pre_hash_string(event, context) == reference_pre_hashes(load_vector(name))[index]


@pytest.mark.parametrize(("name", "index"), VECTOR_EVENTS)
def test_an_event_hashes_the_same_alone_as_in_its_document(name: str, index: int) -> None:
    # The reference expands bare vocabulary over the whole document; this hash looks at one event.
    event, context = _vector_event(name, index)
    alone = single_event_document(copy.deepcopy(event), context)
    assert reference_hashes(alone) == [event_hash(event, context)]


@pytest.mark.parametrize(
    ("algorithm", "reference_name"),
    [("sha-256", "sha256"), ("sha-384", "sha384"), ("sha-512", "sha512"), ("sha3-256", "sha3-256")],
)
def test_every_named_algorithm_matches_the_reference(algorithm: str, reference_name: str) -> None:
    document = load_vector("Example_9.6.1-ObjectEvent.jsonld")
    ours = [event_hash(e, document["@context"], algorithm=algorithm) for e in event_list(document)]
    assert ours == reference_hashes(document, reference_name)
    assert set(HASH_ALGORITHMS) == {"sha-256", "sha-384", "sha-512", "sha3-256"}


def test_an_unknown_algorithm_is_refused() -> None:
    event, context = _vector_event("Example_9.6.1-ObjectEvent.jsonld", 0)
    with pytest.raises(ValueError, match="md5"):
        event_hash(event, context, algorithm="md5")


def test_known_pre_hash_string_of_the_transformation_vector() -> None:
    # Written out from the reference's output, so that a change in either is seen in review.
    event, context = _vector_event("Example_9.6.4-TransformationEvent.jsonld", 0)
    assert pre_hash_string(event, context) == (
        "eventType=TransformationEvent"
        "eventTime=2013-10-31T14:58:56.591Z"
        "eventTimeZoneOffset=+02:00"
        "inputEPCListepc=https://id.gs1.org/01/04000001654321/21/99886655"
        "epc=https://id.gs1.org/01/04012345111224/21/25"
        "inputQuantityList"
        "quantityElementepcClass=https://id.gs1.org/01/00614141777778/10/987quantity=30"
        "quantityElementepcClass=https://id.gs1.org/01/04012345111118/10/4444quantity=10uom=KGM"
        "quantityElementepcClass=https://id.gs1.org/01/04012345666663quantity=220"
        "outputEPCListepc=https://id.gs1.org/01/04012345778892/21/25"
        "epc=https://id.gs1.org/01/04012345778892/21/26"
        "epc=https://id.gs1.org/01/04012345778892/21/27"
        "epc=https://id.gs1.org/01/04012345778892/21/28"
        "bizStep=https://ref.gs1.org/cbv/BizStep-commissioning"
        "disposition=https://ref.gs1.org/cbv/Disp-in_progress"
        "readPointid=https://id.gs1.org/414/4012345000016"
        "ilmd{http://ns.example.com/epcis/}batch=XYZ"
        "{http://ns.example.com/epcis/}bestBeforeDate=2014-12-10"
        "{http://ns.example.com/epcis/}myField=Example of a vendor/user extension"
    )


# --- What the hash ignores ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "index"), VECTOR_EVENTS)
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda e: e.update(eventID="urn:uuid:00000000-0000-4000-8000-000000000000"),
            id="eventID",
        ),
        pytest.param(lambda e: e.pop("eventID", None), id="no-eventID"),
        pytest.param(lambda e: e.update(recordTime="2030-01-01T00:00:00.000Z"), id="recordTime"),
        pytest.param(
            lambda e: e.update(
                errorDeclaration={
                    "declarationTime": "2030-01-01T00:00:00Z",
                    "reason": "did_not_occur",
                }
            ),
            id="errorDeclaration",
        ),
        pytest.param(lambda e: e.pop("errorDeclaration", None), id="no-errorDeclaration"),
        pytest.param(lambda e: _reverse_keys(e), id="key-order"),
    ],
)
def test_identity_fields_and_key_order_do_not_change_the_hash(
    name: str, index: int, change: Any
) -> None:
    event, context = _vector_event(name, index)
    changed = copy.deepcopy(event)
    change(changed)
    assert event_hash(changed, context) == event_hash(event, context)


def _reverse_keys(event: dict[str, Any]) -> None:
    items = list(event.items())
    event.clear()
    event.update(reversed(items))


def test_equivalent_spellings_hash_the_same() -> None:
    event, context = _vector_event("Example_9.6.1-ObjectEvent.jsonld", 0)
    baseline = event_hash(event, context)
    variants: list[dict[str, Any]] = [
        {"bizStep": "https://ref.gs1.org/cbv/BizStep-shipping"},
        {"bizStep": "urn:epcglobal:cbv:bizstep:shipping"},
        {"disposition": "https://ref.gs1.org/cbv/Disp-in_transit"},
        {"epcList": list(reversed(event["epcList"]))},
        {
            "epcList": [
                "https://id.gs1.org/01/10614141073464/21/2017",
                "urn:epc:id:sgtin:0614141.107346.2018",
            ]
        },
        {"epcList": ["https://brand.example/01/10614141073464/21/2017?x=1", event["epcList"][1]]},
        {"eventTime": "2005-04-04T02:33:31.116Z"},
        {"eventTime": "2005-04-03T20:33:31.1160-06:00"},
        {"readPoint": {"id": "https://id.gs1.org/414/0614141073467/254/1234"}},
        {"action": "  OBSERVE  "},
    ]
    for variant in variants:
        assert event_hash({**event, **variant}, context) == baseline, variant


# --- What the hash sees -------------------------------------------------------------------------


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, i))
    else:
        yield path


def _perturb(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    assert isinstance(value, str)
    if is_timestamp(value):
        return (parse_timestamp(value) + timedelta(seconds=1)).isoformat()
    if re.fullmatch(r"[+-]\d\d:\d\d", value):
        return "+03:00" if value != "+03:00" else "+04:00"
    return value + "9"


def _with_leaf_changed(event: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    parent: Any = changed
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = _perturb(parent[path[-1]])
    return changed


@pytest.mark.parametrize(("name", "index"), VECTOR_EVENTS)
def test_changing_any_hashed_value_changes_the_hash(name: str, index: int) -> None:
    event, context = _vector_event(name, index)
    baseline = event_hash(event, context)
    hashed = [path for path in _leaves(event) if path[0] not in EXCLUDED_FIELDS]
    assert hashed
    for path in hashed:
        assert event_hash(_with_leaf_changed(event, path), context) != baseline, path


@pytest.mark.parametrize(("name", "index"), VECTOR_EVENTS)
def test_removing_any_hashed_field_changes_the_hash(name: str, index: int) -> None:
    event, context = _vector_event(name, index)
    baseline = event_hash(event, context)
    for key in event:
        if key not in EXCLUDED_FIELDS:
            without = {k: v for k, v in event.items() if k != key}
            assert event_hash(without, context) != baseline, key


@pytest.mark.parametrize(("name", "index"), VECTOR_EVENTS)
def test_changed_top_level_fields_still_hash_as_the_reference_does(name: str, index: int) -> None:
    event, context = _vector_event(name, index)
    for key in event:
        if key in EXCLUDED_FIELDS or key == "type":
            continue
        first_leaf = next(path for path in _leaves(event[key], (key,)))
        changed = _with_leaf_changed(event, first_leaf)
        assert [event_hash(changed, context)] == reference_hashes(
            single_event_document(changed, context)
        ), key


def test_event_id_is_the_given_one_or_else_the_hash() -> None:
    event, context = _vector_event("Example_9.6.1-ObjectEvent.jsonld", 0)
    assert event_id(event, context) == event["eventID"]
    without = {k: v for k, v in event.items() if k != "eventID"}
    assert event_id(without, context) == event_hash(event, context)


# --- Where the reference has no answer, or depends on JSON key order ----------------------------


def test_milliseconds_that_round_up_carry_into_the_next_second() -> None:
    # The reference raises here (microsecond=1000000) and so gives the event no hash.
    event, context = _vector_event("WithSensorData_SensorDataExample1.jsonld", 0)
    event = copy.deepcopy(event)
    event["eventTime"] = "2019-12-31T23:59:59.9996Z"
    assert "eventTime=2020-01-01T00:00:00.000Z" in pre_hash_string(event, context)
    event["eventTime"] = "2019-12-31T23:59:59.9995+00:00"  # half to even, as Python's round()
    assert "eventTime=2020-01-01T00:00:00.000Z" in pre_hash_string(event, context)
    event["eventTime"] = "2019-12-31T23:59:59.1235Z"
    assert "eventTime=2019-12-31T23:59:59.124Z" in pre_hash_string(event, context)


def test_a_timestamp_without_offset_is_read_as_utc_wherever_the_hash_is_computed() -> None:
    event, context = _vector_event("WithSensorData_SensorDataExample1.jsonld", 0)
    event = copy.deepcopy(event)
    event["sensorElementList"][0]["sensorMetadata"]["time"] = "2019-04-02T14:05:00"
    assert "sensorMetadatatime=2019-04-02T14:05:00.000Z" in pre_hash_string(event, context)


def test_a_business_transaction_without_type_is_hashed() -> None:
    # The reference raises on an entry with one field and gives the event no hash.
    event, context = _vector_event("Example_9.6.1-ObjectEvent.jsonld", 0)
    untyped = {
        **event,
        "bizTransactionList": [{"bizTransaction": "http://transaction.acme.com/po/12345678"}],
    }
    assert pre_hash_string(untyped, context).endswith(
        "bizTransactionListbizTransaction=http://transaction.acme.com/po/12345678"
    )


def test_typed_entries_hash_type_first_whatever_the_json_key_order() -> None:
    # The reference follows the JSON key order here; its XML path, and this hash, put the type first.
    event, context = _vector_event(
        "WithFullCombinationOfFields_object_event_all_possible_fields.jsonld", 0
    )
    swapped = copy.deepcopy(event)
    for field in ("bizTransactionList", "sourceList", "destinationList"):
        swapped[field] = [dict(reversed(list(entry.items()))) for entry in swapped[field]]
    assert event_hash(swapped, context) == event_hash(event, context)


def test_an_inline_context_object_and_an_events_own_context_give_namespaces() -> None:
    event, context = _vector_event("Example_9.6.1-ObjectEvent.jsonld", 1)
    expected = "{http://ns.example.com/epcis/}myField=Example of a vendor/user extension"
    assert pre_hash_string(event, context).endswith(expected)
    # A single context object rather than a list (the reference only reads lists).
    assert pre_hash_string(event, {"example": "http://ns.example.com/epcis/"}).endswith(expected)
    # An event carrying its own @context: its prefixes count, the @context itself is not hashed.
    own = {"@context": [{"example": "http://ns.example.com/epcis/"}], **event}
    assert pre_hash_string(own, None) == pre_hash_string(event, context)
    # Without any context, the prefix stays as written.
    assert pre_hash_string(event, None).endswith(
        "example:myField=Example of a vendor/user extension"
    )


def test_numbers_lose_trailing_zeros_and_non_numbers_stay() -> None:
    event, context = _vector_event("Example_9.6.1-ObjectEvent.jsonld", 1)
    values = {
        "10.0": "10",
        "0.50": "0.5",
        "007": "7",
        "1e3": "1000",
        "inf": "inf",
        "NaN": "NaN",
        "1.2.3": "1.2.3",
    }
    for given, hashed in values.items():
        assert pre_hash_string({**event, "example:myField": given}, context).endswith(
            "{http://ns.example.com/epcis/}myField=" + hashed
        ), given
