"""EPCIS capture in the log: one signed document, then one entry per event.

A capture is a DSSE envelope whose payload is an EPCIS 2.0 JSON-LD document (payload type
``application/ld+json``), signed by the submitting party; the party is the owner of the signing key.
It becomes:

- one ``epcis.capture`` entry holding the envelope exactly as submitted (what the party signed), and
- right after it, one ``epcis.event`` entry per event, in document order, whose payload is derived
  from the capture: the capture's index, the event's position, its eventID (the sender's, or its
  CBV 2.0 event hash) and hash, and the statement type it maps onto.

The event entries are a deterministic function of the capture entry, so replay recomputes them and
refuses any that differ; they give every event its own index, receipt and inclusion proof.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provenance.attestations import key_of
from provenance.dsse import Envelope
from provenance.epcis.document import DocumentKind, parse_document
from provenance.epcis.errors import EPCIdentifierError, EPCISValidationError
from provenance.epcis.identifiers import item_key as epcis_item_key
from provenance.epcis.mapping import MappedEvent, map_document
from provenance.errors import InvalidStatementError, MalformedError
from provenance.gs1.digital_link import DigitalLinkError, parse_digital_link

EPCIS_PAYLOAD_TYPE = "application/ld+json"
CAPTURE = "epcis.capture"
EVENT = "epcis.event"
MAX_EVENTS = 1000
DOCUMENT_ONLY: tuple[DocumentKind, ...] = ("EPCISDocument",)


@dataclass(frozen=True)
class Capture:
    """A parsed capture: its events, mapped, in document order."""

    events: tuple[MappedEvent, ...]


def parse_capture(envelope: Envelope) -> Capture:
    """Parse the EPCIS document inside ``envelope``; InvalidStatementError naming the field if bad."""
    try:
        document = parse_document(envelope.payload, kinds=DOCUMENT_ONLY)
        events = map_document(document)
    except (EPCISValidationError, EPCIdentifierError, MalformedError) as e:
        raise InvalidStatementError(f"EPCIS document: {e}") from e
    if not events:
        raise InvalidStatementError("EPCIS document: the eventList is empty")
    if len(events) > MAX_EVENTS:
        raise InvalidStatementError(f"EPCIS document: {len(events)} events, at most {MAX_EVENTS}")
    ids = [e.event_id for e in events]
    if len(set(ids)) != len(ids):
        raise InvalidStatementError("EPCIS document: two events have the same eventID")
    return Capture(events)


def event_payload(capture_index: int, position: int, event: MappedEvent) -> bytes:
    """Return the payload of the ``epcis.event`` entry for ``event`` of the capture at an index."""
    body = {
        "capture": capture_index,
        "position": position,
        "eventID": event.event_id,
        "eventHash": event.event_hash,
        "statement": event.statement_type,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def ledger_item_key(identifier: str) -> str:
    """Return the ledger's key for an EPCIS identifier (URN or Digital Link): the Digital Link path
    where it has one (so EPCIS events and statements meet on the same keys), else the identifier."""
    identifier = epcis_item_key(identifier)
    if identifier.startswith(("http://", "https://")):
        try:
            return key_of(parse_digital_link(identifier))
        except DigitalLinkError:
            return identifier
    return identifier


def event_row(index: int, capture_index: int, position: int, event: MappedEvent) -> dict[str, Any]:
    """Return the ``epcis_event`` read-model row of an event entry."""
    return {
        "idx": index,
        "capture": capture_index,
        "position": position,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "event_time_ms": int(event.event_time.timestamp() * 1000),
        "biz_step": event.biz_step,
        "biz_location": ledger_item_key(event.biz_location) if event.biz_location else None,
        "read_point": ledger_item_key(event.read_point) if event.read_point else None,
        "disposition": event.disposition,
        "statement_type": event.statement_type,
    }


def event_items(event: MappedEvent) -> list[tuple[str, str]]:
    """Return (item key, role) of every item the event names: inputs, outputs, the rest subjects."""
    roles: dict[tuple[str, str], None] = {}
    for item in event.inputs:
        roles[(ledger_item_key(item.key), "input")] = None
    for item in event.outputs:
        roles[(ledger_item_key(item.key), "output")] = None
    named = {key for key, _ in roles}
    for epc in event.epcs:
        key = ledger_item_key(epc)
        if key not in named:
            roles[(key, "subject")] = None
    return list(roles)


def event_edges(event: MappedEvent) -> list[tuple[str, str]]:
    """Return the (input, output) lineage edges of a transformation event."""
    inputs = [ledger_item_key(i.key) for i in event.inputs]
    outputs = [ledger_item_key(o.key) for o in event.outputs]
    return [(i, o) for i in inputs for o in outputs if i != o]
