"""Reading the ledger: statements with their status, everything said about an item, lineage.

Answers are assembled from the read models (which say *where* to look) and the log itself (which
says *what* was signed): a statement's content is always decoded from its entry's leaf bytes, never
from a copy. Lineage walks the transformation edges breadth-first with a depth limit and a visited
set, so a cycle in what suppliers claimed cannot loop it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, text

from provenance.attestations import key_of
from provenance.entry import decode_leaf
from provenance.gs1.digital_link import DigitalLink, parse_digital_link
from provenance.statements import parse_envelope
from provenance.store.sql import Reader, blob

MAX_LINEAGE_DEPTH = 50
MAX_LINEAGE_NODES = 5000


@dataclass
class StatementView:
    """A statement as the log holds it, and what later statements say about it."""

    index: int
    time_ms: int
    type: str
    by: str
    body: dict[str, Any]
    envelope: bytes
    corrected_by: list[int] = field(default_factory=list)
    retracted_by: list[int] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``retracted``, ``corrected`` or ``current``."""
        if self.retracted_by:
            return "retracted"
        return "corrected" if self.corrected_by else "current"


def statement(reader: Reader, index: int) -> StatementView | None:
    """Return the statement at ``index`` with its status, or None if that entry holds none."""
    views = statements(reader, [index])
    return views[0] if views else None


def statements(reader: Reader, indexes: list[int]) -> list[StatementView]:
    """Return the statements at ``indexes`` (those that are statements), in index order."""
    if not indexes:
        return []
    rows = reader.connection.execute(
        text("SELECT idx, leaf FROM log_entry WHERE idx IN :ids ORDER BY idx").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": sorted(set(indexes))},
    ).all()
    followers = reader.connection.execute(
        text(
            "SELECT idx, type, target FROM statement WHERE target IN :ids ORDER BY idx"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": sorted(set(indexes))},
    ).all()
    views = []
    for index, raw in rows:
        entry = decode_leaf(blob(raw))
        envelope = parse_envelope(entry.payload)
        body = json.loads(envelope.payload)
        view = StatementView(
            int(index), entry.time_ms, body["type"], body["by"], body, entry.payload
        )
        for follower, kind, target in followers:
            if target == index and kind == "retraction":
                view.retracted_by.append(follower)
            elif target == index and kind == "correction":
                view.corrected_by.append(follower)
        views.append(view)
    return views


@dataclass(frozen=True)
class ItemKeys:
    """An item's key, the keys of the levels above it that speak for it (a serial is covered by
    what was said about its lot, a lot by what was said about its product), and the key its
    lineage is recorded at (a serial's lot)."""

    own: str
    covered_by: tuple[str, ...]
    lineage: str


def item_keys(uri_or_key: str) -> ItemKeys:
    """Return the keys of an item given as a Digital Link URI or path; DigitalLinkError if bad."""
    link = parse_digital_link(
        uri_or_key if "://" in uri_or_key else "https://id.gs1.org/" + uri_or_key.lstrip("/")
    )
    keys: list[str] = []
    lineage_key: str | None = None
    current: DigitalLink | None = link
    while current is not None:
        keys.append(key_of(current))
        if lineage_key is None and current.level != "serial":
            lineage_key = keys[-1]
        current = current.parent() if current.level in ("serial", "lot") else None
    return ItemKeys(keys[0], tuple(keys), lineage_key or keys[0])


# The keys of places (GLN, AI 414): what the ledger records about a place is the events at it.
_PLACE_KEY_PREFIX = "/414/"


def item_known(reader: Reader, keys: ItemKeys) -> bool:
    """Return whether the ledger records anything that speaks for the item ``keys`` names: a
    statement or event naming it or a qualified level above it (a serial's lot), one naming a level
    below it (a lot or serial of a product, a serial of a lot), or, for a place (GLN, AI 414), an
    EPCIS event whose bizLocation it is. What was said of a product alone does not make every lot
    number known: a mistyped lot must not show a page as if it had been made."""
    specific = [k for k in keys.covered_by if k == keys.own or k.count("/") > 2]
    named = text("SELECT 1 FROM item_ref WHERE item IN :keys LIMIT 1").bindparams(
        bindparam("keys", expanding=True)
    )
    if reader.connection.execute(named, {"keys": specific}).first():
        return True
    # LIKE may use an index (PostgreSQL with the C collation) but is case-insensitive in SQLite;
    # the substr comparison is what decides, exactly, on both.
    prefix = keys.own + "/"
    pattern = prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
    below = text(
        "SELECT 1 FROM item_ref WHERE item LIKE :pattern ESCAPE '!'"
        " AND substr(item, 1, :length) = :prefix LIMIT 1"
    )
    found = {"pattern": pattern, "length": len(prefix), "prefix": prefix}
    if reader.connection.execute(below, found).first():
        return True
    if keys.own.startswith(_PLACE_KEY_PREFIX):
        at = text("SELECT 1 FROM epcis_event WHERE biz_location = :place LIMIT 1")
        return reader.connection.execute(at, {"place": keys.own}).first() is not None
    return False


def about_item(reader: Reader, keys: list[str]) -> list[StatementView]:
    """Return every statement that names one of ``keys``, in log order."""
    if not keys:
        return []
    rows = reader.connection.execute(
        text("SELECT DISTINCT idx FROM item_ref WHERE item IN :keys").bindparams(
            bindparam("keys", expanding=True)
        ),
        {"keys": keys},
    ).all()
    return statements(reader, [int(r[0]) for r in rows])


@dataclass
class Lineage:
    """Items reached from a start item along transformation edges, with the edges walked."""

    start: str
    direction: str
    depth: int
    nodes: dict[str, int] = field(default_factory=dict)
    """Item key -> distance from the start."""
    edges: list[tuple[str, str, int]] = field(default_factory=list)
    """(input, output, index of the transformation)."""
    truncated: bool = False


def lineage(reader: Reader, start: str, direction: str, depth: int) -> Lineage:
    """Walk ``upstream`` (to every origin) or ``downstream`` (to every lot made from ``start``)."""
    if direction not in ("upstream", "downstream"):
        raise ValueError("direction must be upstream or downstream")
    depth = max(0, min(depth, MAX_LINEAGE_DEPTH))
    walk = Lineage(start, direction, depth, {start: 0})
    near = "output" if direction == "upstream" else "input"
    query = text(
        f"SELECT input, output, idx FROM lineage_edge WHERE {near} IN :keys ORDER BY idx"
    ).bindparams(bindparam("keys", expanding=True))
    frontier = [start]
    for distance in range(1, depth + 1):
        if not frontier:
            break
        rows = reader.connection.execute(query, {"keys": frontier}).all()
        frontier = []
        for source, made, index in rows:
            walk.edges.append((str(source), str(made), int(index)))
            reached = str(source) if direction == "upstream" else str(made)
            if reached not in walk.nodes:
                walk.nodes[reached] = distance
                frontier.append(reached)
        if len(walk.nodes) > MAX_LINEAGE_NODES:
            walk.truncated = True
            break
    else:
        walk.truncated = bool(frontier) and bool(
            reader.connection.execute(query, {"keys": frontier}).first()
        )
    return walk


# --- EPCIS events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventQuery:
    """The subset of the EPCIS 2.0 SimpleEventQuery the ledger answers (values already normalised:
    times in ms, bizStep as its bare CBV name, EPCs and locations as ledger item keys)."""

    event_types: tuple[str, ...] = ()
    ge_event_time_ms: int | None = None
    lt_event_time_ms: int | None = None
    biz_steps: tuple[str, ...] = ()
    match_epc: tuple[str, ...] = ()
    match_any_epc: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    after: int = -1
    """Only events whose entry index is above this (the paging cursor)."""
    limit: int = 30


def epcis_events(reader: Reader, query: EventQuery) -> list[tuple[int, int, int]]:
    """Return (event entry index, capture index, position) of matching events, oldest first."""
    clauses = ["e.idx > :after"]
    params: dict[str, Any] = {"after": query.after, "limit": query.limit}
    binds = []
    for name, column, values in (
        ("types", "e.event_type", query.event_types),
        ("steps", "e.biz_step", query.biz_steps),
        ("places", "e.biz_location", query.biz_locations),
    ):
        if values:
            clauses.append(f"{column} IN :{name}")
            params[name] = list(values)
            binds.append(name)
    if query.ge_event_time_ms is not None:
        clauses.append("e.event_time_ms >= :ge")
        params["ge"] = query.ge_event_time_ms
    if query.lt_event_time_ms is not None:
        clauses.append("e.event_time_ms < :lt")
        params["lt"] = query.lt_event_time_ms
    if query.match_epc:
        clauses.append(
            "EXISTS (SELECT 1 FROM item_ref r WHERE r.idx = e.idx AND r.role = 'subject'"
            " AND r.item IN :epc)"
        )
        params["epc"] = list(query.match_epc)
        binds.append("epc")
    if query.match_any_epc:
        clauses.append("EXISTS (SELECT 1 FROM item_ref r WHERE r.idx = e.idx AND r.item IN :any)")
        params["any"] = list(query.match_any_epc)
        binds.append("any")
    sql = text(
        "SELECT e.idx, e.capture, e.position FROM epcis_event e WHERE "
        + " AND ".join(clauses)
        + " ORDER BY e.idx LIMIT :limit"
    ).bindparams(*(bindparam(name, expanding=True) for name in binds))
    return [(int(a), int(b), int(c)) for a, b, c in reader.connection.execute(sql, params)]
