"""The read models: what the log says, indexed for reading, and rebuilt from the log on demand.

The read models are a pure function of the log. The ledger writes them in the same transaction as
the entries they come from; :func:`rebuild` drops them and replays every statement through the same
code (the registry for parties and keys, :class:`ProjectionRows` for attestations), holding the
append lock so that no append interleaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from provenance.attestations import (
    ATTESTATION_TYPES,
    REVIEW,
    REVIEW_FOLLOWERS,
    item_refs,
    lineage_edges,
    target_of,
)
from provenance.capture import Capture, event_edges, event_items, event_row
from provenance.entry import decode_leaf
from provenance.registry import Registry
from provenance.statements import (
    PARTY_REGISTER,
    REGISTRY_TYPES,
    STATEMENT_TYPES,
    Statement,
    parse_envelope,
    parse_statement,
)
from provenance.store.sql import SqlStore, WriteTransaction


@dataclass
class ProjectionRows:
    """Rows of the attestation read models, gathered for one batch."""

    # Finds the items of a review appended before this batch (a statement about a review is
    # indexed under the review's item, so that the item's live feed and page see answers too).
    earlier_review_items: Callable[[int], list[str]] = lambda _index: []
    statement: list[dict[str, Any]] = field(default_factory=list)
    item_ref: list[dict[str, Any]] = field(default_factory=list)
    lineage_edge: list[dict[str, Any]] = field(default_factory=list)
    epcis_event: list[dict[str, Any]] = field(default_factory=list)
    review_items: dict[int, list[str]] = field(default_factory=dict)

    def add(self, index: int, time_ms: int, statement: Statement) -> None:
        """Add the rows an admitted statement at ``index`` contributes (the registry itself
        projects the current state of parties and keys; here every statement is indexed)."""
        body = statement.body
        self.statement.append(
            {
                "idx": index,
                "type": statement.type,
                "party": statement.by,
                "time_ms": time_ms,
                "target": target_of(body),
                "subject": subject_of(statement),
            }
        )
        if statement.capture is not None:
            self._add_capture(index, statement.capture)
            return
        if statement.type not in ATTESTATION_TYPES:
            return
        refs = item_refs(statement.type, body)
        for ref in refs:
            self.item_ref.append({"item": ref.item, "idx": index, "role": ref.role})
        if statement.type == REVIEW:
            self.review_items[index] = [ref.item for ref in refs]
        elif statement.type in REVIEW_FOLLOWERS:
            review = body["review"]
            items = self.review_items.get(review) or self.earlier_review_items(review)
            for item in items:
                self.item_ref.append({"item": item, "idx": index, "role": "about"})
        for source, made in lineage_edges(statement.type, body):
            self.lineage_edge.append({"input": source, "output": made, "idx": index})

    def _add_capture(self, index: int, capture: Capture) -> None:
        # The capture's events are the entries right after it (see provenance.capture).
        for position, event in enumerate(capture.events):
            event_index = index + 1 + position
            self.epcis_event.append(event_row(event_index, index, position, event))
            for key, role in event_items(event):
                self.item_ref.append({"item": key, "idx": event_index, "role": role})
            for source, made in event_edges(event):
                self.lineage_edge.append({"input": source, "output": made, "idx": event_index})

    def write(self, txn: WriteTransaction) -> None:
        """Insert the gathered rows in the batch's transaction."""
        for name in ("statement", "item_ref", "lineage_edge", "epcis_event"):
            txn.insert_projection(name, getattr(self, name))


def subject_of(statement: Statement) -> str | None:
    """Return the party a registry statement is about, or None for an attestation."""
    if statement.type == PARTY_REGISTER:
        subject: str = statement.body["party"]["id"]
        return subject
    if statement.type in REGISTRY_TYPES:
        party: str = statement.body["party"]
        return party
    return None


def rebuild(store: SqlStore) -> Registry:
    """Drop and replay every read model of the log in ``store``; return the registry replayed."""
    registry = Registry()
    rows = ProjectionRows()
    with store.write() as txn:
        for index, leaf in txn.entries_of_kinds(0, STATEMENT_TYPES):
            entry = decode_leaf(leaf)
            statement = registry.resolve_party(parse_statement(parse_envelope(entry.payload)))
            registry.apply(statement, index)
            rows.add(index, entry.time_ms, statement)
        parties, keys = registry.take_dirty_rows()
        txn.clear_projections()
        txn.replace_projection("party", parties)
        txn.replace_projection("party_key", keys)
        rows.write(txn)
    return registry
