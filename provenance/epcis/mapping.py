"""EPCIS events onto the ledger's statement types: one small typed record per event.

Each event becomes a :class:`MappedEvent`: its identity (the sender's ``eventID``, else its CBV 2.0 event
hash), its statement type, and the facts the ledger indexes (time, business step, places, and every
item key it mentions). The statement type is decided by the first rule that applies:

1. an ``errorDeclaration`` → ``correction`` (the event declares itself erroneous; its
   ``correctiveEventIDs`` name the events that replace it);
2. a ``TransformationEvent`` → ``transformation`` (inputs become outputs);
3. an ``ObjectEvent`` whose bizStep is ``commissioning`` or ``creating_class_instance`` → ``origin``
   (items or lots come into existence);
4. a bizStep of ``shipping``, ``departing``, ``receiving`` or ``arriving`` → ``custody`` (the bizStep
   says what happened, even on an ADD);
5. an ``ObjectEvent`` with action ``ADD`` → ``origin`` (EPCIS's ADD commissions the items);
6. anything else → no statement type (``None``): a generic event, kept and indexed all the same.

``certificationInfo`` does not decide the type: it is carried as :attr:`MappedEvent.certification`,
a link from whatever the event states to the certificates it was made under.

Item keys: every EPC, parent, child, input, output and quantity class, written as its GS1 Digital
Link URI when it is an SGTIN/LGTIN/SGTIN-pattern/SGLN/PGLN/SSCC URN (see
:mod:`provenance.epcis.identifiers`), as given otherwise, so that EPCIS events and the ledger's own
statements meet on the same keys. Standard CBV values (``shipping``, ``cbv:BizStep-shipping``,
``https://ref.gs1.org/cbv/BizStep-shipping``, ``urn:epcglobal:cbv:bizstep:shipping``) are reduced to
their bare name. This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from provenance.epcis._jsonld import CBV
from provenance.epcis.document import EPCISDocument, parse_timestamp, validate_event
from provenance.epcis.event_hash import event_hash
from provenance.epcis.identifiers import item_key

StatementType = Literal["origin", "transformation", "custody", "correction"]

ORIGIN_BIZ_STEPS = frozenset({"commissioning", "creating_class_instance"})
CUSTODY_BIZ_STEPS = frozenset({"shipping", "departing", "receiving", "arriving"})

_CBV_FORMS = (
    (CBV + "BizStep-", "cbv:BizStep-", "urn:epcglobal:cbv:bizstep:"),
    (CBV + "Disp-", "cbv:Disp-", "urn:epcglobal:cbv:disp:"),
    (CBV + "ER-", "cbv:ER-", "urn:epcglobal:cbv:er:"),
)


@dataclass(frozen=True)
class Item:
    """An item named by an event: its key, the identifier as written, and a quantity for classes."""

    key: str
    identifier: str
    quantity: float | None = None
    uom: str | None = None


@dataclass(frozen=True)
class ErrorDeclaration:
    """An event's declaration that it is in error, and the events that correct it."""

    declaration_time: datetime
    reason: str | None
    corrective_event_ids: tuple[str, ...]


@dataclass(frozen=True)
class MappedEvent:
    """One EPCIS event as the ledger sees it; ``event`` is its JSON object exactly as received."""

    event_id: str
    event_type: str
    statement_type: StatementType | None
    event_time: datetime
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    epcs: tuple[str, ...]
    inputs: tuple[Item, ...]
    outputs: tuple[Item, ...]
    certification: tuple[str, ...]
    error_declaration: ErrorDeclaration | None
    event: dict[str, Any]
    event_hash: str
    rule: str


def map_event(event: dict[str, Any], context: Any = None) -> MappedEvent:
    """Validate one EPCIS 2.0 event and map it by this module's rules; ``context`` is its document's."""
    validate_event(event)
    event_type = str(event["type"])
    biz_step = cbv_name(event.get("bizStep"))
    statement_type, rule = _statement_type(event, event_type, biz_step)
    inputs = (*_items(event, "inputEPCList"), *_quantities(event, "inputQuantityList"))
    outputs = (*_items(event, "outputEPCList"), *_quantities(event, "outputQuantityList"))
    mentioned = [
        *_items(event, "epcList"),
        *_items(event, "parentID"),
        *_items(event, "childEPCs"),
        *inputs,
        *outputs,
        *_quantities(event, "quantityList"),
        *_quantities(event, "childQuantityList"),
    ]
    computed = event_hash(event, context)
    given = event.get("eventID")
    return MappedEvent(
        event_id=given if isinstance(given, str) else computed,
        event_type=event_type,
        statement_type=statement_type,
        event_time=parse_timestamp(event["eventTime"]),
        biz_step=biz_step,
        disposition=cbv_name(event.get("disposition")),
        read_point=_place(event, "readPoint"),
        biz_location=_place(event, "bizLocation"),
        epcs=tuple(dict.fromkeys(item.key for item in mentioned)),
        inputs=inputs,
        outputs=outputs,
        certification=_strings(event.get("certificationInfo")),
        error_declaration=_error_declaration(event),
        event=event,
        event_hash=computed,
        rule=rule,
    )


def map_document(document: EPCISDocument) -> tuple[MappedEvent, ...]:
    """Map every event of a parsed document, in document order."""
    return tuple(map_event(event.event, event.context) for event in document.events)


def cbv_name(value: Any) -> str | None:
    """Return the bare name of a standard bizStep, disposition or error reason in any of its forms.

    Other strings are returned unchanged, and anything that is not a string gives ``None``.
    """
    if not isinstance(value, str):
        return None
    for forms in _CBV_FORMS:
        for prefix in forms:
            if value.startswith(prefix) and len(value) > len(prefix):
                return value[len(prefix) :]
    return value


def _statement_type(
    event: Mapping[str, Any], event_type: str, biz_step: str | None
) -> tuple[StatementType | None, str]:
    if "errorDeclaration" in event:
        return "correction", "errorDeclaration"
    if event_type == "TransformationEvent":
        return "transformation", "TransformationEvent"
    if event_type == "ObjectEvent" and biz_step in ORIGIN_BIZ_STEPS:
        return "origin", f"bizStep {biz_step}"
    if biz_step in CUSTODY_BIZ_STEPS:
        return "custody", f"bizStep {biz_step}"
    if event_type == "ObjectEvent" and event.get("action") == "ADD":
        return "origin", "action ADD"
    return None, "no rule"


def _items(event: Mapping[str, Any], field: str) -> tuple[Item, ...]:
    return tuple(Item(item_key(value), value) for value in _strings(event.get(field)))


def _quantities(event: Mapping[str, Any], field: str) -> tuple[Item, ...]:
    return tuple(
        Item(
            item_key(element["epcClass"]),
            element["epcClass"],
            element.get("quantity"),
            element.get("uom"),
        )
        for element in event.get(field) or ()
    )


def _place(event: Mapping[str, Any], field: str) -> str | None:
    place = event.get(field)
    return item_key(place["id"]) if isinstance(place, Mapping) else None


def _strings(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _error_declaration(event: Mapping[str, Any]) -> ErrorDeclaration | None:
    declaration = event.get("errorDeclaration")
    if declaration is None:
        return None
    return ErrorDeclaration(
        declaration_time=parse_timestamp(declaration["declarationTime"]),
        reason=cbv_name(declaration.get("reason")),
        corrective_event_ids=_strings(declaration.get("correctiveEventIDs")),
    )
