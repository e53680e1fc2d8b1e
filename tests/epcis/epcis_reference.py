"""The vendored EPCIS vectors, and the reference event hash (epcis-event-hash-generator) as an oracle.

Only tests use the reference package; ``provenance/`` never imports it. Its quirks are contained here:
it keeps the namespaces of every document it has seen in a module global (cleared before each call),
it only reads ``epcisBody.eventList`` (query documents are rewritten into that shape), it skips events
it cannot process (so the number of hashes is checked), and it triggers a DeprecationWarning in
``importlib.resources`` (ignored around the call, since the suite turns warnings into errors).
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

from epcis_event_hash_generator import (  # type: ignore[import-untyped]
    dl_normaliser,
    hash_generator,
    json_to_py,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "epcis"
VECTOR_FILES = sorted(VECTORS.glob("*.jsonld"))


def load_vector(name: str) -> dict[str, Any]:
    """The JSON object of a vector file, by file name."""
    loaded: dict[str, Any] = json.loads((VECTORS / name).read_bytes())
    return loaded


def event_list(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of an EPCISDocument or EPCISQueryDocument."""
    body = document["epcisBody"]
    if "queryResults" in body:
        events: list[dict[str, Any]] = body["queryResults"]["resultsBody"]["eventList"]
        return events
    listed: list[dict[str, Any]] = body["eventList"]
    return listed


def single_event_document(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A minimal EPCISDocument holding one event."""
    return {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00Z",
        "epcisBody": {"eventList": [event]},
    }


def reference_pre_hashes(document: dict[str, Any]) -> list[str]:
    """The reference's pre-hash strings of every event of a document, in order."""
    events = event_list(document)
    shaped = {**copy.deepcopy(document), "epcisBody": {"eventList": copy.deepcopy(events)}}
    json_to_py._namespaces.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        parsed = json_to_py.event_list_from_epcis_document_json(shaped)
    pre_hashes: list[str] = hash_generator.derive_prehashes_from_events(parsed)
    assert len(pre_hashes) == len(events), "the reference skipped an event it could not process"
    return pre_hashes


def reference_hashes(document: dict[str, Any], algorithm: str = "sha256") -> list[str]:
    """The reference's event hash IDs of every event of a document, in order."""
    hashes: list[str] = hash_generator.calculate_hashes_from_pre_hashes(
        reference_pre_hashes(document), algorithm
    )
    return hashes


def reference_normalise(value: str) -> str | None:
    """The reference's constrained canonical Digital Link form of an identifier, or None."""
    result: str | None = dl_normaliser.normaliser(value)
    return result
