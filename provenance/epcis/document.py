"""EPCIS 2.0 JSON-LD documents as received: strict parsing and the structural rules that matter.

:func:`parse_document` takes the exact bytes a sender submitted and returns an :class:`EPCISDocument`
whose events are the parsed JSON objects, untouched, each with the ``@context`` in force. Nothing is
re-serialized: whoever stores or hashes the submission keeps the bytes. Three shapes are accepted:
an ``EPCISDocument`` (``epcisBody.eventList``), an ``EPCISQueryDocument``
(``epcisBody.queryResults.resultsBody.eventList``), and a single event object with its own ``@context``.

The rules checked, each raising :class:`EPCISValidationError` that names the JSON path (and so the
event's index and field) where it broke:

1. The bytes are UTF-8 JSON with no duplicate keys and only finite numbers; the root is an object.
2. Documents carry ``@context``, ``type``, ``schemaVersion`` (``2.x``) and ``creationDate`` (a
   timestamp with an offset); ``epcisBody`` holds the event list where the document type puts it.
3. Every event is an object whose ``type`` is one of the five EPCIS 2.0 event types, with
   ``eventTime`` (timestamp with an offset) and ``eventTimeZoneOffset`` (``±hh:mm``, -14:00..+14:00);
   ``recordTime`` when present is a timestamp; ``eventID`` when present is a URI.
4. ``action`` is ``ADD``, ``OBSERVE`` or ``DELETE``; it is required for every type but
   TransformationEvent, which must not have one.
5. The lists and objects of the standard fields have the shapes EPCIS defines (EPC lists of URIs,
   quantity elements with an ``epcClass``, ``readPoint``/``bizLocation`` objects with an ``id``, typed
   bizTransaction/source/destination entries, sensor elements with reports, an error declaration with
   its ``declarationTime``...), and a field appears only on event types that have it.
6. Per event type: ObjectEvent ``ilmd`` only with ``ADD``; AggregationEvent ``parentID`` with ``ADD``
   and ``DELETE``; AssociationEvent always a ``parentID``; TransactionEvent at least one
   bizTransaction; TransformationEvent at least one input or output, or a ``transformationID``.

User extensions (namespaced keys such as ``example:myField``), ``ilmd`` contents and unknown fields
are kept as they are and not judged. This module does no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn

from provenance.epcis.errors import EPCISValidationError

DocumentKind = Literal["EPCISDocument", "EPCISQueryDocument", "event"]
ALL_KINDS: frozenset[DocumentKind] = frozenset({"EPCISDocument", "EPCISQueryDocument", "event"})

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_TIME_ZONE_OFFSET = re.compile(r"[+-]((0\d|1[0-3]):[0-5]\d|14:00)")
_SCHEMA_VERSION = re.compile(r"2\.\d+(\.\d+)?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")

# The standard fields each event type may carry, beyond those every event has.
_COMMON_FIELDS = frozenset(
    {
        "@context",
        "type",
        "eventID",
        "eventTime",
        "eventTimeZoneOffset",
        "recordTime",
        "certificationInfo",
        "errorDeclaration",
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "sourceList",
        "destinationList",
        "sensorElementList",
    }
)
_TYPE_FIELDS: Mapping[str, frozenset[str]] = {
    "ObjectEvent": frozenset({"action", "epcList", "quantityList", "bizTransactionList", "ilmd"}),
    "AggregationEvent": frozenset(
        {"action", "parentID", "childEPCs", "childQuantityList", "bizTransactionList"}
    ),
    "TransactionEvent": frozenset(
        {"action", "parentID", "epcList", "quantityList", "bizTransactionList"}
    ),
    "TransformationEvent": frozenset(
        {
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
            "bizTransactionList",
            "ilmd",
        }
    ),
    "AssociationEvent": frozenset(
        {"action", "parentID", "childEPCs", "childQuantityList", "bizTransactionList"}
    ),
}
_STANDARD_FIELDS = _COMMON_FIELDS.union(*_TYPE_FIELDS.values())


@dataclass(frozen=True)
class EPCISEvent:
    """One event of a document: its position, its JSON object as parsed, the ``@context`` in force."""

    index: int
    event: dict[str, Any]
    context: Any

    @property
    def type(self) -> str:
        """The event type (``ObjectEvent``, ...)."""
        return str(self.event["type"])

    @property
    def event_id(self) -> str | None:
        """The ``eventID`` the sender gave, if any."""
        given = self.event.get("eventID")
        return given if isinstance(given, str) else None


@dataclass(frozen=True)
class EPCISDocument:
    """A parsed EPCIS 2.0 document: its kind, header fields, events, and the whole JSON object."""

    kind: DocumentKind
    context: Any
    schema_version: str | None
    creation_date: str | None
    events: tuple[EPCISEvent, ...]
    document: dict[str, Any]
    query_name: str | None = None
    subscription_id: str | None = None


def parse_document(data: bytes, *, kinds: Collection[DocumentKind] = ALL_KINDS) -> EPCISDocument:
    """Parse and check an EPCIS 2.0 JSON-LD document of one of ``kinds`` from the exact bytes received.

    Raises EPCISValidationError naming the JSON path of the first rule broken.
    """
    root = _load_json(data)
    kind = root.get("type")
    if kind in EVENT_TYPES:
        kind = "event"
    if kind not in ALL_KINDS:
        _fail(
            "type",
            f"must be EPCISDocument, EPCISQueryDocument or an event type, not {kind!r}"
            if "type" in root
            else "required field is missing",
        )
    if kind not in kinds:
        _fail("type", f"{kind} is not accepted here (accepted: {', '.join(sorted(kinds))})")
    context = _context(root)
    if kind == "event":
        validate_event(root, path="")
        return EPCISDocument("event", context, None, None, (EPCISEvent(0, root, context),), root)

    schema_version = root.get("schemaVersion")
    if schema_version is None:
        _fail("schemaVersion", "required field is missing")
    if not isinstance(schema_version, str) or not _SCHEMA_VERSION.fullmatch(schema_version):
        _fail(
            "schemaVersion",
            f"must be an EPCIS 2 version string such as '2.0', not {schema_version!r}",
        )
    creation_date = _timestamp(root, "creationDate", "creationDate", required=True)
    body = _object(root, "epcisBody", "epcisBody", required=True)
    query_name = subscription_id = None
    if kind == "EPCISDocument":
        events_path = "epcisBody.eventList"
        events = body.get("eventList")
    else:
        results = _object(body, "queryResults", "epcisBody.queryResults", required=True)
        query_name = _string(
            results, "queryName", "epcisBody.queryResults.queryName", required=True
        )
        subscription_id = _string(
            results, "subscriptionID", "epcisBody.queryResults.subscriptionID"
        )
        results_body = _object(
            results, "resultsBody", "epcisBody.queryResults.resultsBody", required=True
        )
        events_path = "epcisBody.queryResults.resultsBody.eventList"
        events = results_body.get("eventList")
    if events is None:
        _fail(events_path, "required field is missing")
    if not isinstance(events, list):
        _fail(events_path, "must be a list of events")
    parsed = []
    for index, event in enumerate(events):
        validate_event(event, path=f"{events_path}[{index}]", index=index)
        parsed.append(EPCISEvent(index, event, context))
    return EPCISDocument(
        kind,
        context,
        schema_version,
        creation_date,
        tuple(parsed),
        root,
        query_name,
        subscription_id,
    )


def validate_event(event: Any, *, path: str = "", index: int | None = None) -> None:
    """Check one EPCIS 2.0 event object against rules 3 to 6 of this module.

    Raises EPCISValidationError whose path is ``path`` (the event's place in its document) plus the
    field, and whose ``event_index`` is ``index``.
    """
    check = _EventChecker(path, index)
    if not isinstance(event, dict):
        check.fail("", "an event must be a JSON object")
    event_type = event.get("type")
    if event_type is None:
        check.fail("type", "required field is missing")
    if event_type not in EVENT_TYPES:
        check.fail(
            "type",
            f"unknown event type {event_type!r}; expected one of {', '.join(sorted(EVENT_TYPES))}",
        )
    check.action(event, event_type)
    for key in event:
        if (
            key in _STANDARD_FIELDS
            and key not in _COMMON_FIELDS
            and key not in _TYPE_FIELDS[event_type]
        ):
            check.fail(key, f"is not a field of {event_type}")
    check.timestamp(event, "eventTime", required=True)
    offset = event.get("eventTimeZoneOffset")
    if offset is None:
        check.fail("eventTimeZoneOffset", "required field is missing")
    if not isinstance(offset, str) or not _TIME_ZONE_OFFSET.fullmatch(offset):
        check.fail(
            "eventTimeZoneOffset",
            f"must be an offset from -14:00 to +14:00 such as '+01:00', not {offset!r}",
        )
    check.timestamp(event, "recordTime")
    check.uri(event, "eventID")
    for field in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        check.uri_list(event, field)
    for field in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"):
        check.quantity_list(event, field)
    for field in ("parentID", "transformationID"):
        check.uri(event, field)
    for field in ("bizStep", "disposition"):
        check.string(event, field, field)
    for field in ("readPoint", "bizLocation"):
        if check.optional_object(event, field) is not None:
            check.uri(event[field], "id", f"{field}.id", required=True)
    check.certification_info(event)
    check.persistent_disposition(event)
    check.biz_transactions(event)
    check.sources_and_destinations(event, "sourceList", "source")
    check.sources_and_destinations(event, "destinationList", "destination")
    check.sensor_elements(event)
    check.error_declaration(event)
    check.optional_object(event, "ilmd")
    check.type_rules(event, event_type)


# --- Document level -----------------------------------------------------------------------------


def _fail(path: str, detail: str) -> NoReturn:
    raise EPCISValidationError(path, detail, None, path)


def _reject_constant(name: str) -> NoReturn:
    _fail("document", f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        _fail("document", f"number {text} is out of range")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            _fail("document", f"duplicate key {key!r}")
        result[key] = value
    return result


def _load_json(data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EPCISValidationError("document", f"not UTF-8: {e}") from e
    try:
        root = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as e:
        raise EPCISValidationError("document", f"not JSON: {e}") from e
    except RecursionError as e:
        raise EPCISValidationError("document", "nested too deeply") from e
    if not isinstance(root, dict):
        _fail("document", "must be a JSON object")
    return root


def _context(root: Mapping[str, Any]) -> Any:
    context = root.get("@context")
    if context is None:
        _fail("@context", "required field is missing")
    items = context if isinstance(context, list) else [context]
    if not items or not all(isinstance(item, str | dict) for item in items):
        _fail("@context", "must be a context URL, a context object, or a non-empty list of them")
    return context


def _object(
    parent: Mapping[str, Any], key: str, path: str, *, required: bool = False
) -> dict[str, Any]:
    value = parent.get(key)
    if value is None and required:
        _fail(path, "required field is missing")
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object")
    return value


def _string(
    parent: Mapping[str, Any], key: str, path: str, *, required: bool = False
) -> str | None:
    value = parent.get(key)
    if value is None:
        if required:
            _fail(path, "required field is missing")
        return None
    if not isinstance(value, str) or not value:
        _fail(path, "must be a non-empty string")
    return value


def _timestamp(
    parent: Mapping[str, Any], key: str, path: str, *, required: bool = False
) -> str | None:
    value = parent.get(key)
    if value is None:
        if required:
            _fail(path, "required field is missing")
        return None
    if not is_timestamp(value):
        _fail(path, f"must be a date and time with a time zone offset, not {value!r}")
    return str(value)


def is_timestamp(value: Any) -> bool:
    """Return whether ``value`` is an EPCIS timestamp: ISO 8601 date and time with ``Z`` or an offset."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_timestamp(value: str) -> datetime:
    """Return the timezone-aware datetime of an EPCIS timestamp; ``value`` must pass is_timestamp."""
    if not is_timestamp(value):
        raise ValueError(f"not an EPCIS timestamp: {value!r}")
    return datetime.fromisoformat(value)


# --- Event level --------------------------------------------------------------------------------


class _EventChecker:
    """The field checks of one event; every failure names the event's path and the field."""

    def __init__(self, path: str, index: int | None) -> None:
        self.path = path
        self.index = index

    def fail(self, field: str, detail: str) -> NoReturn:
        full = ".".join(part for part in (self.path, field) if part).replace(".[", "[")
        raise EPCISValidationError(full or "event", detail, self.index, field)

    def _present(self, parent: Mapping[str, Any], key: str, field: str, required: bool) -> Any:
        value = parent.get(key)
        if value is None and required:
            self.fail(field, "required field is missing")
        return value

    def timestamp(
        self, parent: Mapping[str, Any], key: str, field: str = "", *, required: bool = False
    ) -> None:
        value = self._present(parent, key, field or key, required)
        if value is not None and not is_timestamp(value):
            self.fail(
                field or key, f"must be a date and time with a time zone offset, not {value!r}"
            )

    def uri(
        self, parent: Mapping[str, Any], key: str, field: str = "", *, required: bool = False
    ) -> None:
        value = self._present(parent, key, field or key, required)
        if value is not None and not (isinstance(value, str) and _URI.fullmatch(value)):
            self.fail(field or key, f"must be a URI, not {value!r}")

    def string(
        self, parent: Mapping[str, Any], key: str, field: str, *, required: bool = False
    ) -> None:
        value = self._present(parent, key, field, required)
        if value is not None and not (isinstance(value, str) and value.strip()):
            self.fail(field, f"must be a non-empty string, not {value!r}")

    def optional_object(
        self, parent: Mapping[str, Any], key: str, field: str = ""
    ) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is not None and not isinstance(value, dict):
            self.fail(field or key, "must be a JSON object")
        return value

    def list_of(
        self, parent: Mapping[str, Any], key: str, field: str = "", *, required: bool = False
    ) -> list[Any]:
        value = self._present(parent, key, field or key, required)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(field or key, "must be a list")
        return value

    def action(self, event: Mapping[str, Any], event_type: str) -> None:
        action = event.get("action")
        if event_type == "TransformationEvent":
            if action is not None:
                self.fail("action", "a TransformationEvent has no action")
            return
        if action is None:
            self.fail(
                "action", f"required field is missing (a {event_type} has ADD, OBSERVE or DELETE)"
            )
        if action not in ACTIONS:
            self.fail("action", f"must be ADD, OBSERVE or DELETE, not {action!r}")

    def uri_list(self, event: Mapping[str, Any], key: str) -> None:
        for i, item in enumerate(self.list_of(event, key)):
            if not isinstance(item, str) or not _URI.fullmatch(item):
                self.fail(f"{key}[{i}]", f"must be a URI, not {item!r}")

    def quantity_list(self, event: Mapping[str, Any], key: str) -> None:
        for i, element in enumerate(self.list_of(event, key)):
            field = f"{key}[{i}]"
            if not isinstance(element, dict):
                self.fail(field, "a quantity element must be a JSON object")
            self.uri(element, "epcClass", f"{field}.epcClass", required=True)
            quantity = element.get("quantity")
            if quantity is not None and (
                isinstance(quantity, bool) or not isinstance(quantity, int | float)
            ):
                self.fail(f"{field}.quantity", f"must be a number, not {quantity!r}")
            self.string(element, "uom", f"{field}.uom")
            if "uom" in element and quantity is None:
                self.fail(f"{field}.uom", "a unit of measure needs a quantity")

    def certification_info(self, event: Mapping[str, Any]) -> None:
        value = event.get("certificationInfo")
        if value is None or (isinstance(value, str) and _URI.fullmatch(value)):
            return
        if isinstance(value, list) and all(isinstance(v, str) and _URI.fullmatch(v) for v in value):
            return
        self.fail("certificationInfo", "must be a URI or a list of URIs")

    def persistent_disposition(self, event: Mapping[str, Any]) -> None:
        value = self.optional_object(event, "persistentDisposition")
        if value is None:
            return
        if "set" not in value and "unset" not in value:
            self.fail("persistentDisposition", "needs a set or an unset list")
        for key in ("set", "unset"):
            for i, item in enumerate(self.list_of(value, key, f"persistentDisposition.{key}")):
                if not isinstance(item, str) or not item:
                    self.fail(
                        f"persistentDisposition.{key}[{i}]", f"must be a disposition, not {item!r}"
                    )

    def biz_transactions(self, event: Mapping[str, Any]) -> None:
        for i, entry in enumerate(self.list_of(event, "bizTransactionList")):
            field = f"bizTransactionList[{i}]"
            if not isinstance(entry, dict):
                self.fail(field, "must be a JSON object")
            self.uri(entry, "bizTransaction", f"{field}.bizTransaction", required=True)
            self.string(entry, "type", f"{field}.type")

    def sources_and_destinations(self, event: Mapping[str, Any], key: str, value_key: str) -> None:
        for i, entry in enumerate(self.list_of(event, key)):
            field = f"{key}[{i}]"
            if not isinstance(entry, dict):
                self.fail(field, "must be a JSON object")
            self.string(entry, "type", f"{field}.type", required=True)
            self.uri(entry, value_key, f"{field}.{value_key}", required=True)

    def sensor_elements(self, event: Mapping[str, Any]) -> None:
        for i, element in enumerate(self.list_of(event, "sensorElementList")):
            field = f"sensorElementList[{i}]"
            if not isinstance(element, dict):
                self.fail(field, "must be a JSON object")
            metadata = self.optional_object(element, "sensorMetadata", f"{field}.sensorMetadata")
            if metadata is not None:
                for key in ("time", "startTime", "endTime"):
                    self.timestamp(metadata, key, f"{field}.sensorMetadata.{key}")
            reports = self.list_of(element, "sensorReport", f"{field}.sensorReport", required=True)
            if not reports:
                self.fail(f"{field}.sensorReport", "needs at least one sensor report")
            for j, report in enumerate(reports):
                if not isinstance(report, dict):
                    self.fail(f"{field}.sensorReport[{j}]", "must be a JSON object")
                self.timestamp(report, "time", f"{field}.sensorReport[{j}].time")

    def error_declaration(self, event: Mapping[str, Any]) -> None:
        declaration = self.optional_object(event, "errorDeclaration")
        if declaration is None:
            return
        self.timestamp(
            declaration, "declarationTime", "errorDeclaration.declarationTime", required=True
        )
        self.string(declaration, "reason", "errorDeclaration.reason")
        ids = self.list_of(declaration, "correctiveEventIDs", "errorDeclaration.correctiveEventIDs")
        for i, item in enumerate(ids):
            if not isinstance(item, str) or not _URI.fullmatch(item):
                self.fail(
                    f"errorDeclaration.correctiveEventIDs[{i}]", f"must be a URI, not {item!r}"
                )

    def type_rules(self, event: Mapping[str, Any], event_type: str) -> None:
        action = event.get("action")
        if event_type == "ObjectEvent" and "ilmd" in event and action != "ADD":
            self.fail("ilmd", f"instance/lot master data belongs to ADD events only, not {action}")
        if (
            event_type == "AggregationEvent"
            and action in ("ADD", "DELETE")
            and "parentID" not in event
        ):
            self.fail(
                "parentID", f"required field is missing (an AggregationEvent with {action} has one)"
            )
        if event_type == "AssociationEvent" and "parentID" not in event:
            self.fail("parentID", "required field is missing (an AssociationEvent has one)")
        if event_type == "TransactionEvent" and not event.get("bizTransactionList"):
            self.fail(
                "bizTransactionList", "a TransactionEvent needs at least one business transaction"
            )
        if (
            event_type == "TransformationEvent"
            and not any(
                event.get(key)
                for key in (
                    "inputEPCList",
                    "inputQuantityList",
                    "outputEPCList",
                    "outputQuantityList",
                )
            )
            and "transformationID" not in event
        ):
            self.fail(
                "inputEPCList",
                "a TransformationEvent needs an input or an output (or a transformationID)",
            )
