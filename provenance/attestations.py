"""Attestation statements: their published JSON Schemas, the rules beyond the schemas, and what
each statement says about items (the references and lineage edges the read models index).

The schemas live in ``provenance/schemas/<type>.v1.json`` and are served verbatim at stable URLs.
Beyond the schema, an item must be a GS1 Digital Link URI whose GTIN has a valid check digit, and a
correction or retraction must point at an earlier attestation of the same party. This module is
pure: lookups of earlier entries are passed in as functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import jsonschema_rs

from provenance.errors import InvalidStatementError, NotAuthorizedError
from provenance.gs1.digital_link import DigitalLink, DigitalLinkError, parse_digital_link

SCHEMA_BASE = "https://provenance.dev/schemas/"

ATTESTATION_TYPES = (
    "product",
    "origin",
    "transformation",
    "custody",
    "certification",
    "declaration",
    "footprint",
    "recall",
    "correction",
    "retraction",
    "review",
    "review.answer",
    "review.hide",
    "review.erase",
    "review.status",
)

REVIEW = "review"
REVIEW_FOLLOWERS = ("review.answer", "review.hide", "review.erase", "review.status")
"""Statements about a review: they point at it by its index (``review``)."""


@cache
def schema(statement_type: str) -> dict[str, Any]:
    """Return the published JSON Schema (version 1) of an attestation type."""
    if statement_type not in ATTESTATION_TYPES:
        raise KeyError(statement_type)
    text = resources.files("provenance.schemas").joinpath(f"{statement_type}.v1.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator(statement_type: str) -> Any:
    # jsonschema-rs validates in about 1 µs where the pure-Python jsonschema takes about 280 µs:
    # validation runs on every submission and again for every entry a replay checks.
    return jsonschema_rs.validator_for(schema(statement_type))


def validate_attestation(body: dict[str, Any]) -> None:
    """Raise InvalidStatementError naming the field, unless ``body`` is a valid attestation."""
    statement_type = body["type"]
    validator = _validator(statement_type)
    if not validator.is_valid(body):
        first = min(validator.iter_errors(body), key=lambda e: [str(p) for p in e.instance_path])
        path = first.instance_path
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        raise InvalidStatementError(f"{statement_type}{where}: {first.message}")
    for _role, field, position, uri in _item_uris(body):
        _key_at(uri, field, position)


def item_key(uri: str, field: str = "item") -> str:
    """Return the canonical key of an item URI (its Digital Link path, e.g. ``01/…/10/…``)."""
    try:
        return _item_key(uri)
    except DigitalLinkError as e:
        raise InvalidStatementError(f"{field}: {uri!r} is not a valid GS1 Digital Link: {e}") from e
    except ValueError as e:
        raise InvalidStatementError(f"{field}: {uri!r} {e}") from e


@lru_cache(maxsize=65536)
def _item_key(uri: str) -> str:
    # A full GS1 parse takes about 100 µs, and the same lots come back in statement after
    # statement (and again in replay): parse each URI once.
    link = parse_digital_link(uri)
    if link.gtin is None:
        raise ValueError("does not name a product (GTIN, AI 01)")
    return key_of(link)


def key_of(link: DigitalLink) -> str:
    """Return the item key of a parsed link: its primary key and qualifiers as a URI path
    (``/01/<gtin>/10/<lot>``), without the domain or any query attribute."""
    return "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in link.path)


def _item_uris(body: dict[str, Any]) -> Iterator[tuple[str, str, int, str]]:
    """Yield (role, field, position, URI) of every item an attestation names. The field's name
    is spelt out (:func:`_key_at`) only for an error: most statements name every item right."""
    for position, uri in enumerate(body.get("items", ())):
        yield "subject", "items", position, uri
    for position, entry in enumerate(body.get("inputs", ())):
        yield "input", "inputs", position, entry["item"]
    for position, entry in enumerate(body.get("outputs", ())):
        yield "output", "outputs", position, entry["item"]
    subject = body.get("subject")
    if subject:
        for position, uri in enumerate(subject.get("items", ())):
            yield "subject", "subject.items", position, uri


def _key_at(uri: str, field: str, position: int) -> str:
    """:func:`item_key` of the URI at ``field[position]``, whose path is spelt out only for the
    error (``inputs[2].item``)."""
    try:
        return _item_key(uri)
    except (DigitalLinkError, ValueError):
        where = f"{field}[{position}]" + (".item" if field in ("inputs", "outputs") else "")
        return item_key(uri, where)  # raises, naming the field


# --- What a statement says about items ----------------------------------------------------------


@dataclass(frozen=True)
class ItemRef:
    """An item named by a statement, and in what role (subject, input, output)."""

    item: str
    role: str


def item_refs(statement_type: str, body: dict[str, Any]) -> list[ItemRef]:
    """Return the items a valid attestation names, as canonical keys with their roles."""
    refs: dict[tuple[str, str], None] = {}
    for role, field, position, uri in _item_uris(body):
        refs[(_key_at(uri, field, position), role)] = None
    return [ItemRef(item, role) for item, role in refs]


def lineage_edges(statement_type: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (input item, output item) edges a transformation makes; none for other types."""
    if statement_type != "transformation":
        return []
    inputs = [item_key(flow["item"]) for flow in body["inputs"]]
    outputs = [item_key(flow["item"]) for flow in body["outputs"]]
    return [(i, o) for i in inputs for o in outputs if i != o]


# --- Rules that look at earlier entries ---------------------------------------------------------

TargetLookup = Callable[[int], "tuple[str, str] | None"]
"""Returns (statement type, party) of the statement at a log index, or None if there is none."""


def target_of(body: dict[str, Any]) -> int | None:
    """Return the index a correction, a retraction or a statement about a review points at, or
    None for other statements."""
    for field in ("corrects", "retracts", "review"):
        if field in body:
            value: int = body[field]
            return value
    return None


def check_references(
    statement_type: str, by: str, body: dict[str, Any], index: int, lookup: TargetLookup
) -> None:
    """Raise unless a correction or retraction at ``index`` points at an earlier attestation made
    by the same party ``by``."""
    target = target_of(body)
    if target is None:
        return
    if statement_type in REVIEW_FOLLOWERS:
        _check_review_reference(statement_type, target, index, lookup)
        return
    if target >= index:
        raise InvalidStatementError(
            f"{statement_type} points at entry {target}, not an earlier one"
        )
    found = lookup(target)
    if found is None or found[0] not in ATTESTATION_TYPES or found[0].startswith(REVIEW):
        raise InvalidStatementError(f"entry {target} is not an attestation")
    target_type, party = found
    if party != by:
        raise NotAuthorizedError(
            f"entry {target} was made by {party!r}; only its author may correct or retract it"
        )
    if statement_type == "correction" and target_type in ("correction", "retraction"):
        raise InvalidStatementError(f"entry {target} is a {target_type}; correct the original")


def _check_review_reference(
    statement_type: str, target: int, index: int, lookup: TargetLookup
) -> None:
    """Raise unless a statement about a review points at an earlier review entry."""
    found = lookup(target) if target < index else None
    if found is None or found[0] != REVIEW:
        raise InvalidStatementError(f"{statement_type}: entry {target} is not a review")
