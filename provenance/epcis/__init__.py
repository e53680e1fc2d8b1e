"""EPCIS 2.0 handling: documents as received, the CBV 2.0 event hash, and the mapping onto statements.

Pure functions over bytes and JSON values: no I/O, no web framework. The modules:

- :mod:`~provenance.epcis.document`: strict parsing of EPCISDocument / EPCISQueryDocument / single
  events from the exact bytes received, with the structural rules of EPCIS 2.0;
- :mod:`~provenance.epcis.event_hash`: the CBV 2.0 event hash ID (``ni:///sha-256;…?ver=CBV2.0``);
- :mod:`~provenance.epcis.mapping`: each event as a :class:`MappedEvent` with its statement type;
- :mod:`~provenance.epcis.identifiers`: EPC URNs to GS1 Digital Link item keys;
- :mod:`~provenance.epcis.errors`: :class:`EPCISValidationError`, :class:`EPCIdentifierError`.
"""

from provenance.epcis.document import (
    ALL_KINDS,
    EVENT_TYPES,
    DocumentKind,
    EPCISDocument,
    EPCISEvent,
    is_timestamp,
    parse_document,
    parse_timestamp,
    validate_event,
)
from provenance.epcis.errors import EPCIdentifierError, EPCISValidationError
from provenance.epcis.event_hash import HASH_ALGORITHMS, event_hash, event_id, pre_hash_string
from provenance.epcis.identifiers import epc_to_digital_link, gs1_check_digit, item_key
from provenance.epcis.mapping import (
    ErrorDeclaration,
    Item,
    MappedEvent,
    StatementType,
    cbv_name,
    map_document,
    map_event,
)

__all__ = [
    "ALL_KINDS",
    "EVENT_TYPES",
    "HASH_ALGORITHMS",
    "DocumentKind",
    "EPCISDocument",
    "EPCISEvent",
    "EPCISValidationError",
    "EPCIdentifierError",
    "ErrorDeclaration",
    "Item",
    "MappedEvent",
    "StatementType",
    "cbv_name",
    "epc_to_digital_link",
    "event_hash",
    "event_id",
    "gs1_check_digit",
    "is_timestamp",
    "item_key",
    "map_document",
    "map_event",
    "parse_document",
    "parse_timestamp",
    "pre_hash_string",
    "validate_event",
]
