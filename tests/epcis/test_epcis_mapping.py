"""Each EPCIS event maps onto the ledger's statement type, with the item keys the ledger indexes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from epcis_reference import VECTORS, event_list, load_vector

from provenance.epcis import (
    EPCISValidationError,
    Item,
    cbv_name,
    event_hash,
    map_document,
    map_event,
    parse_document,
)

DL = "https://id.gs1.org"


def _mapped(name: str) -> list[Any]:
    return list(map_document(parse_document((VECTORS / name).read_bytes())))


def _event(name: str, index: int = 0) -> tuple[dict[str, Any], Any]:
    document = load_vector(name)
    return copy.deepcopy(event_list(document)[index]), document["@context"]


# --- The vectors --------------------------------------------------------------------------------


def test_shipping_and_receiving_object_events_are_custody() -> None:
    shipping, receiving = _mapped("Example_9.6.1-ObjectEvent.jsonld")
    assert (shipping.statement_type, shipping.rule) == ("custody", "bizStep shipping")
    assert shipping.event_type == "ObjectEvent"
    assert shipping.event_id == (
        "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0"
    )
    assert shipping.event_time == datetime(
        2005, 4, 3, 20, 33, 31, 116000, timezone(timedelta(hours=-6))
    )
    assert (shipping.biz_step, shipping.disposition) == ("shipping", "in_transit")
    assert shipping.read_point == f"{DL}/414/0614141073467/254/1234"
    assert shipping.biz_location is None
    assert shipping.epcs == (f"{DL}/01/10614141073464/21/2017", f"{DL}/01/10614141073464/21/2018")
    assert (shipping.inputs, shipping.outputs, shipping.certification) == ((), (), ())
    assert shipping.error_declaration is None
    assert (receiving.statement_type, receiving.biz_step, receiving.disposition) == (
        "custody",
        "receiving",
        "in_progress",
    )
    assert receiving.biz_location == f"{DL}/414/0012345111112"
    assert receiving.epcs == (f"{DL}/01/10614141073464/21/2018",)


def test_the_transformation_event_is_a_transformation_with_its_inputs_and_outputs() -> None:
    (event,) = _mapped("Example_9.6.4-TransformationEvent.jsonld")
    assert (event.statement_type, event.rule) == ("transformation", "TransformationEvent")
    assert event.biz_step == "commissioning"
    assert event.inputs == (
        Item(f"{DL}/01/04012345111224/21/25", "urn:epc:id:sgtin:4012345.011122.25"),
        Item(f"{DL}/01/04000001654321/21/99886655", "urn:epc:id:sgtin:4000001.065432.99886655"),
        Item(
            f"{DL}/01/04012345111118/10/4444", "urn:epc:class:lgtin:4012345.011111.4444", 10, "KGM"
        ),
        Item(f"{DL}/01/00614141777778/10/987", "urn:epc:class:lgtin:0614141.077777.987", 30, None),
        Item(f"{DL}/01/04012345666663", "urn:epc:idpat:sgtin:4012345.066666.*", 220, None),
    )
    assert [item.key for item in event.outputs] == [
        f"{DL}/01/04012345778892/21/{serial}" for serial in ("25", "26", "27", "28")
    ]
    assert event.epcs == tuple(item.key for item in (*event.inputs, *event.outputs))


def test_the_error_declaration_is_a_correction_pointing_at_its_corrective_event() -> None:
    declared, corrective = _mapped("WithErrorDeclaration_ErrorDeclarationAndCorrectiveEvent.jsonld")
    assert (declared.statement_type, declared.rule) == ("correction", "errorDeclaration")
    assert declared.event_id == "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"
    assert declared.error_declaration is not None
    assert declared.error_declaration.corrective_event_ids == (
        "urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8",
    )
    assert declared.error_declaration.reason == "incorrect_data"
    assert declared.error_declaration.declaration_time == datetime(2020, 1, 14, 23, 0, tzinfo=UTC)
    assert [i.key for i in declared.inputs] == [
        f"{DL}/01/04012345111118/21/987",
        f"{DL}/01/04012345222227/10/87545GHGH",
    ]
    assert [i.quantity for i in declared.outputs] == [None, 452]
    # The corrective event is the transformation that replaces it.
    assert corrective.event_id == declared.error_declaration.corrective_event_ids[0]
    assert (corrective.statement_type, corrective.error_declaration) == ("transformation", None)
    assert [i.quantity for i in corrective.outputs] == [None, 500]


def test_the_full_object_event_is_a_correction_with_a_certification_link() -> None:
    (event,) = _mapped("WithFullCombinationOfFields_object_event_all_possible_fields.jsonld")
    assert event.statement_type == "correction"
    assert event.certification == (
        "https://accreditation-council.example.org/certificate/ABC12345",
    )
    assert event.error_declaration is not None
    assert event.error_declaration.corrective_event_ids == (
        "ni:///sha-256;fec9667280c4710a3fa9558b7bc8ddc2ced0dc442d87f82becae24bb6ca6a46f?ver=CBV2.0",
    )
    assert event.epcs == (f"{DL}/01/10614141073464/21/2018", f"{DL}/01/04012345123456/10/998877")


def test_events_without_a_statement_type_are_kept_as_generic_events() -> None:
    (association,) = _mapped("AssociationEvent_AssociationEvent-a.jsonld")
    assert (association.statement_type, association.rule) == (None, "no rule")
    assert association.biz_step == "assembling"
    # GRAI and GIAI have no Digital Link form here: they are kept as written.
    assert association.epcs == (
        "urn:epc:id:grai:4012345.55555.987",
        "urn:epc:id:giai:4000001.12345",
    )
    (inspection,) = _mapped("WithSensorData_SensorDataExample1.jsonld")
    assert (inspection.statement_type, inspection.biz_step) == (None, "inspecting")
    assert (
        inspection.event == event_list(load_vector("WithSensorData_SensorDataExample1.jsonld"))[0]
    )


def test_the_query_documents_events_map_like_the_capture_documents() -> None:
    queried = _mapped("EPCISQueryDocument.jsonld")
    captured = _mapped("Example_9.6.1-ObjectEvent.jsonld")
    assert queried == captured


# --- The rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "statement_type", "rule"),
    [
        ({"action": "ADD", "bizStep": "commissioning"}, "origin", "bizStep commissioning"),
        (
            {"action": "ADD", "bizStep": "cbv:BizStep-creating_class_instance"},
            "origin",
            "bizStep creating_class_instance",
        ),
        ({"action": "OBSERVE", "bizStep": "commissioning"}, "origin", "bizStep commissioning"),
        ({"action": "ADD", "bizStep": None}, "origin", "action ADD"),
        ({"action": "ADD", "bizStep": "packing"}, "origin", "action ADD"),
        ({"action": "ADD", "bizStep": "receiving"}, "custody", "bizStep receiving"),
        ({"action": "OBSERVE", "bizStep": "departing"}, "custody", "bizStep departing"),
        (
            {"action": "OBSERVE", "bizStep": "https://ref.gs1.org/cbv/BizStep-arriving"},
            "custody",
            "bizStep arriving",
        ),
        (
            {"action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:shipping"},
            "custody",
            "bizStep shipping",
        ),
        ({"action": "DELETE", "bizStep": "decommissioning"}, None, "no rule"),
        ({"action": "OBSERVE", "bizStep": None}, None, "no rule"),
        (
            {"action": "ADD", "errorDeclaration": {"declarationTime": "2005-04-05T00:00:00Z"}},
            "correction",
            "errorDeclaration",
        ),
    ],
)
def test_object_event_rules(changes: dict[str, Any], statement_type: str | None, rule: str) -> None:
    event, context = _event("Example_9.6.1-ObjectEvent.jsonld")
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    mapped = map_event(event, context)
    assert (mapped.statement_type, mapped.rule) == (statement_type, rule)


def test_custody_applies_to_aggregations_too_but_commissioning_only_to_object_events() -> None:
    event, context = _event("AssociationEvent_AssociationEvent-a.jsonld")
    event["type"] = "AggregationEvent"
    event["bizStep"] = "shipping"
    assert map_event(event, context).statement_type == "custody"
    event["bizStep"] = "commissioning"
    assert map_event(event, context).statement_type is None


def test_an_event_without_an_event_id_is_identified_by_its_hash() -> None:
    event, context = _event("Example_9.6.1-ObjectEvent.jsonld", 1)
    given = map_event(event, context)
    del event["eventID"]
    computed = map_event(event, context)
    assert computed.event_id == computed.event_hash == event_hash(event, context)
    assert given.event_hash == computed.event_hash
    assert (
        given.event_id
        == "ni:///sha-256;00e1e6eba3a7cc6125be4793a631f0af50f8322e0ab5f2c0bab994a11cec1d79?ver=CBV2.0"
    )


def test_parent_children_and_class_quantities_are_item_keys() -> None:
    event, context = _event("AssociationEvent_AssociationEvent-a.jsonld")
    event["type"] = "AggregationEvent"
    event["parentID"] = "urn:epc:id:sscc:0614141.1234567890"
    event["childEPCs"] = [
        "urn:epc:id:sgtin:0614141.107346.2017",
        "https://id.gs1.org/01/10614141073464/21/2017",
    ]
    event["childQuantityList"] = [
        {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 5}
    ]
    mapped = map_event(event, context)
    assert mapped.epcs == (
        f"{DL}/00/106141412345678908",
        f"{DL}/01/10614141073464/21/2017",
        f"{DL}/01/04012345123456/10/998877",
    )


def test_certification_info_may_be_a_list() -> None:
    event, context = _event("Example_9.6.1-ObjectEvent.jsonld")
    event["certificationInfo"] = ["https://cert.example/a", "https://cert.example/b"]
    assert map_event(event, context).certification == (
        "https://cert.example/a",
        "https://cert.example/b",
    )


def test_mapping_checks_the_event_first() -> None:
    event, context = _event("Example_9.6.1-ObjectEvent.jsonld")
    event["eventTimeZoneOffset"] = "CET"
    with pytest.raises(EPCISValidationError) as caught:
        map_event(event, context)
    assert caught.value.field == "eventTimeZoneOffset"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("shipping", "shipping"),
        ("cbv:BizStep-shipping", "shipping"),
        ("https://ref.gs1.org/cbv/BizStep-shipping", "shipping"),
        ("urn:epcglobal:cbv:bizstep:shipping", "shipping"),
        ("https://ref.gs1.org/cbv/Disp-in_transit", "in_transit"),
        ("urn:epcglobal:cbv:disp:in_transit", "in_transit"),
        ("cbv:ER-incorrect_data", "incorrect_data"),
        ("https://example.org/steps/grading", "https://example.org/steps/grading"),
        ("https://ref.gs1.org/cbv/BizStep-", "https://ref.gs1.org/cbv/BizStep-"),
        (None, None),
        (7, None),
    ],
)
def test_cbv_names(value: Any, name: str | None) -> None:
    assert cbv_name(value) == name
