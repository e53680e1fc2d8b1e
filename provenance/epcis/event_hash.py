"""The CBV 2.0 event hash: an EPCIS event's identity computed from its content (``ni:///sha-256;…?ver=CBV2.0``).

GS1's Core Business Vocabulary 2.0 (section "EPCIS event hash ID") defines how to turn an event into a
canonical *pre-hash string* and hash it, so that every party computes the same ``eventID`` for the same
event whatever its serialisation. The algorithm's text leaves room for reading, so the normative answer
is the reference implementation (RalphTro/epcis-event-hash-generator, PyPI
``epcis-event-hash-generator``, MIT licence); this module reproduces what it computes for JSON-LD
events. The steps, numbered as :func:`pre_hash_string` tags them:

1. Bare CBV values are expanded to web URIs (``shipping`` → ``https://ref.gs1.org/cbv/BizStep-shipping``):
   every string value ``v`` for which exactly one CBV/GS1 vocabulary URI that the event's JSON-LD
   expansion yields ends in ``-v`` or ``/v`` is replaced by it (see :mod:`provenance.epcis._jsonld`).
2. The event becomes a tree of ``(name, text, children)`` nodes: keys with a prefix from the document's
   ``@context`` become ``{namespace}local``; a list becomes repeated children of the same name; every
   object's children are sorted, except the entries of bizTransaction, source and destination lists;
   ``comment`` and ``rdfs:comment`` keys are not hashed.
3. The tree is brought to the XML model of EPCIS: ``fooList`` items become ``foo`` children
   (``epc``, ``quantityElement``, ``sensorElement``), ``childEPCs`` become ``epc`` children, and the
   entries of bizTransaction/source/destination lists become (type, value) pairs.
4. Fields in the canonical property order are written as ``name=value`` (or ``name`` followed by their
   children), siblings of the same name sorted; extensions nested in a field (names with a
   ``{namespace/}``) follow that field's regular children.
5. Everything left (bizTransactionList, sourceList, destinationList, ilmd, user extensions, unknown
   fields) is written in the generic form, each sibling group sorted; ``eventID``, ``recordTime``,
   ``type`` and ``errorDeclaration`` are left out.

Every value is canonicalised on the way: trimmed; timestamps (names containing "time", not "offset")
to UTC with milliseconds and ``Z``; old ``urn:epcglobal:cbv:`` URNs to web URIs; numbers without
trailing zeros; EPC URIs and Digital Link URIs to constrained canonical Digital Link URIs (see
:mod:`provenance.epcis._hash_normaliser`).

Where this module departs from the reference, on purpose:

- the reference expands bare values over a whole document, this module over one event, so that an
  event hashes the same in whichever document it travels (they differ only when a value of one event
  is the bare suffix of a vocabulary URI that only another event of the same document uses);
- where the reference raises and gives the event no hash (a bizTransaction without a type, the value
  ``"inf"``, milliseconds that round up to a whole second) this module gives the natural answer;
- where the reference depends on the order of keys in the JSON (a bizTransaction, source or
  destination entry written value before type) this module puts the type first, as the reference
  does for XML; it reads a timestamp without offset as UTC, where the reference uses the machine's
  time zone; and it reads prefixes from a ``@context`` that is a single object, not only a list.

This module does no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeAlias

from provenance.epcis._hash_normaliser import constrained_digital_link
from provenance.epcis._jsonld import active_context, vocabulary_expansions

CBV_VERSION = "CBV2.0"

# Named Information hash algorithm names (IANA registry) and their implementations.
HASH_ALGORITHMS: Mapping[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
    "sha3-256": hashlib.sha3_256,
}


class _Node(NamedTuple):
    """One element of the event tree: its name, its text value (``""`` for none), its children."""

    name: str
    text: str
    children: list[_Child]


# A bizTransaction, source or destination entry: its type node (when it has one), then its value node.
_Entry: TypeAlias = tuple[_Node, ...]
_Child: TypeAlias = "_Node | _Entry"

_Order: TypeAlias = tuple[tuple[str, "_Order | None"], ...]


def _leaves(names: str) -> _Order:
    return tuple((name, None) for name in names.split())


_EPC = _leaves("epc")
_QUANTITY: _Order = (("quantityElement", _leaves("epcClass quantity uom")),)
_SENSOR_METADATA = _leaves(
    "time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod bizRules"
)
_SENSOR_REPORT = _leaves(
    "type exception deviceID deviceMetadata rawData dataProcessingMethod time microorganism "
    "chemicalSubstance value component stringValue booleanValue hexBinaryValue uriValue minValue "
    "maxValue meanValue sDev percRank percValue uom coordinateReferenceSystem"
)
# The canonical property order. bizTransactionList, sourceList and destinationList stand in the
# specification's table between bizLocation and sensorElementList, but the reference's order never
# matches their entries, so they are always written in the generic part after it: so are they here.
PROPERTY_ORDER: _Order = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPC),
    ("inputEPCList", _EPC),
    ("childEPCs", _EPC),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", _EPC),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", _leaves("set unset")),
    ("readPoint", _leaves("id")),
    ("bizLocation", _leaves("id")),
    (
        "sensorElementList",
        (
            (
                "sensorElement",
                (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)),
            ),
        ),
    ),
)

# Fields that identify or annotate an event rather than describe it: never hashed.
EXCLUDED_FIELDS = frozenset({"eventID", "recordTime", "type", "errorDeclaration"})
_TYPED_LISTS = frozenset({"bizTransactionList", "sourceList", "destinationList"})
_TYPED_VALUES = frozenset({"bizTransaction", "source", "destination"})
_OLD_CBV_URNS = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)


def event_hash(event: Mapping[str, Any], context: Any = None, *, algorithm: str = "sha-256") -> str:
    """Return the CBV 2.0 event hash ID ``ni:///<algorithm>;<hex>?ver=CBV2.0`` of a JSON-LD event.

    ``context`` is the ``@context`` of the document the event came in; ``algorithm`` is a Named
    Information algorithm name from HASH_ALGORITHMS.
    """
    if algorithm not in HASH_ALGORITHMS:
        raise ValueError(
            f"unsupported hash algorithm {algorithm!r}; use one of {sorted(HASH_ALGORITHMS)}"
        )
    digest = HASH_ALGORITHMS[algorithm](pre_hash_string(event, context).encode("utf-8")).hexdigest()
    return f"ni:///{algorithm};{digest}?ver={CBV_VERSION}"


def event_id(event: Mapping[str, Any], context: Any = None) -> str:
    """Return the event's own ``eventID`` when it has one, else its CBV 2.0 event hash ID (SHA-256)."""
    given = event.get("eventID")
    if isinstance(given, str) and given:
        return given
    return event_hash(event, context)


def pre_hash_string(event: Mapping[str, Any], context: Any = None) -> str:
    """Return the canonical pre-hash string of a JSON-LD event under its document's ``@context``.

    The event's own ``@context``, if it has one, is added to ``context``; it is not hashed.
    """
    contexts = [*_inline_contexts(context), *_inline_contexts(event.get("@context"))]
    active = active_context(iter(contexts))
    namespaces = _namespaces(contexts)
    # Step 1: bare vocabulary values become web URIs.
    expanded = _expand_bare_values(
        {key: value for key, value in event.items() if key != "@context"},
        sorted(vocabulary_expansions(event, active)),
    )
    # Step 2: the event as a tree.
    root = _to_node(expanded, namespaces)
    # Step 3: the XML model.
    root = _to_xml_model(root)
    event_type = expanded.get("type")
    # Steps 4 and 5.
    return (
        "eventType="
        + (event_type if isinstance(event_type, str) else "")
        + _ordered(root.children, PROPERTY_ORDER)
        + _generic(
            [c for c in root.children if not (isinstance(c, _Node) and c.name in EXCLUDED_FIELDS)]
        )
    )


# --- Contexts -----------------------------------------------------------------------------------


def _inline_contexts(context: Any) -> Iterator[Mapping[str, Any]]:
    """The context objects in a ``@context`` value (remote context URLs are known, not fetched)."""
    if isinstance(context, Mapping):
        yield context
    elif isinstance(context, list):
        for item in context:
            if isinstance(item, Mapping):
                yield item


def _namespaces(contexts: list[Mapping[str, Any]]) -> dict[str, str]:
    """Prefix → namespace of the inline contexts: ``prefix:local`` is hashed as ``{namespace}local``."""
    return {
        key: value
        for context in contexts
        for key, value in context.items()
        if isinstance(value, str)
    }


# --- Step 1 -------------------------------------------------------------------------------------


def _expand_bare_values(value: Any, expansions: list[str]) -> Any:
    if isinstance(value, str):
        matches = [e for e in expansions if e.endswith("-" + value) or e.endswith("/" + value)]
        return matches[0] if len(matches) == 1 else value
    if isinstance(value, list):
        return [_expand_bare_values(item, expansions) for item in value]
    if isinstance(value, Mapping):
        return {key: _expand_bare_values(item, expansions) for key, item in value.items()}
    return value


# --- Step 2 -------------------------------------------------------------------------------------


def _qualified(name: str, namespaces: Mapping[str, str]) -> str:
    prefix, colon, local = name.partition(":")
    if colon and prefix in namespaces:
        return "{" + namespaces[prefix] + "}" + local
    return name


def _to_node(value: Any, namespaces: Mapping[str, str]) -> _Node:
    """The node for a JSON value; its name is the object's ``type`` (the caller renames it)."""
    if isinstance(value, list):
        children: list[_Child] = [_to_node(item, namespaces) for item in value]
        node = _Node("", "", children)
    elif isinstance(value, Mapping):
        name = value.get("type", "")
        node = _Node(name if isinstance(name, str) else "", str(value.get("#text", "")), [])
        for key, item in value.items():
            if key in ("#text", "rdfs:comment", "comment"):
                continue
            child = _to_node(item, namespaces)
            qualified = _qualified(key, namespaces)
            if isinstance(item, list):
                node.children.extend(
                    _Node(qualified, c.text, c.children)
                    for c in child.children
                    if isinstance(c, _Node)
                )
            else:
                node.children.append(_Node(qualified, child.text, child.children))
    elif isinstance(value, str):
        # A prefixed value is written with its namespace, without braces.
        prefix, colon, local = value.partition(":")
        if colon and prefix in namespaces:
            value = namespaces[prefix] + local
        return _Node("", value, [])
    else:
        # Python's spelling of JSON scalars (True, None, 26.0) is what the reference hashes.
        return _Node("", str(value), [])
    keeps_order = (
        any(key in value for key in _TYPED_VALUES)
        if isinstance(value, Mapping)
        else any(isinstance(item, str) and item in _TYPED_VALUES for item in value)
    )
    if not keeps_order:
        node.children.sort()
    return node


# --- Step 3 -------------------------------------------------------------------------------------


def _typed_entry(entry: _Node) -> _Entry:
    """A bizTransaction/source/destination entry as (type, value), type first whatever the JSON order."""
    types = [c for c in entry.children if isinstance(c, _Node) and c.name == "type"]
    values = [c for c in entry.children if isinstance(c, _Node) and c.name in _TYPED_VALUES]
    return (*types[:1], *values[:1])


def _to_xml_model(node: _Node) -> _Node:
    children: list[_Child] = []
    lists: dict[str, list[_Node]] = {}
    child_epcs: list[_Child] = []
    for child in node.children:
        if isinstance(child, _Node) and child.name.endswith("List"):
            lists.setdefault(child.name, []).append(
                _Node(child.name[:-4], child.text, child.children)
            )
        elif isinstance(child, _Node) and child.name == "childEPCs":
            child_epcs.append(_Node("epc", child.text, []))
        else:
            children.append(child)
    for name, items in lists.items():
        if name in _TYPED_LISTS:
            children.append(_Node(name, "", [_typed_entry(item) for item in items]))
        else:
            children.append(_Node(name, "", list(items)))
    if child_epcs:
        children.append(_Node("childEPCs", "", child_epcs))
    corrected = [
        c if not isinstance(c, _Node) or c.name in _TYPED_LISTS else _to_xml_model(c)
        for c in children
    ]
    name = node.name
    if name in ("inputEPC", "outputEPC"):
        name = "epc"
    elif name in ("inputQuantity", "outputQuantity", "childQuantity") or (
        name == "quantity" and corrected
    ):
        name = "quantityElement"
    return _Node(name, node.text, corrected)


# --- Steps 4 and 5 ------------------------------------------------------------------------------


def _ordered(children: list[_Child], order: _Order) -> str:
    """Write the children named in ``order``, removing from ``children`` each one fully written."""
    out = ""
    extensions = _take_nested_extensions(children)
    for name, sub_order in order:
        values: list[str] = []
        for child in [c for c in children if isinstance(c, _Node) and c.name == name]:
            written = _ordered_child(child, sub_order)
            if written:
                values.append(written)
            if not child.children:
                _remove(children, child)
        out += "".join(sorted(values))
    if extensions:
        out += _generic(extensions)
    return out


def _ordered_child(child: _Node, sub_order: _Order | None) -> str:
    nested = _ordered(child.children, sub_order) if sub_order else ""
    text = ""
    if child.text:
        text = child.text.strip()
        lowered = child.name.lower()
        text = (
            _timestamp(text) if "time" in lowered and "offset" not in lowered else _canonical(text)
        )
        if text:
            text = "=" + text
    return child.name + text + nested if text or nested else ""


def _take_nested_extensions(children: list[_Child]) -> list[_Child]:
    """Remove and return the user extensions inside a field with an extension point (not the event)."""
    if len(children) <= 1:
        return []
    names = [c.name for c in children if isinstance(c, _Node)]
    if any("eventTime" in name or "action" in name for name in names):
        return []  # the event itself: its extensions go to the generic part
    taken: list[_Child] = [
        c for c in children if isinstance(c, _Node) and "{" in c.name and "/}" in c.name
    ]
    for child in taken:
        _remove(children, child)
    return taken


def _generic(children: list[_Child]) -> str:
    values: list[str] = []
    for child in children:
        if not isinstance(child, _Node):
            values.append(_generic(list(child)))
            continue
        text = child.text.strip()
        if text:
            text = "=" + _canonical(text)
        values.append(child.name + text + _generic(child.children))
    if len(children) > 1 and not any(
        isinstance(c, _Node) and c.name in _TYPED_VALUES for c in children
    ):
        values.sort()
    return "".join(values)


def _remove(children: list[_Child], child: _Child) -> None:
    for i, candidate in enumerate(children):
        if candidate is child:
            del children[i]
            return


# --- Values -------------------------------------------------------------------------------------


def _canonical(text: str) -> str:
    for urn, uri in _OLD_CBV_URNS:
        text = text.replace(urn, uri)
    text = _number(text)
    return constrained_digital_link(text) or text


def _number(text: str) -> str:
    """A number without trailing zeros (``10.0`` → ``10``); anything that is not a number unchanged."""
    try:
        number = float(text)
        return str(int(number)) if int(number) == number else str(number)
    except (ValueError, OverflowError):
        return text


def _timestamp(text: str) -> str:
    """An ISO 8601 timestamp in UTC with milliseconds and ``Z``; anything that is not one unchanged."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        # The reference reads these in the local time zone of the machine; the hash must not depend
        # on where it is computed, so read them as UTC (what the reference does on a UTC machine).
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    # Round half to even to whole milliseconds, as Python's round() does in the reference.
    milliseconds = round(moment.microsecond, -3)
    moment = moment.replace(microsecond=0) + timedelta(microseconds=milliseconds)
    return moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
