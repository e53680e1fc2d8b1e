"""Rebuilding the read models from the log.

The read models (parties and keys, so far) are a pure function of the log: :func:`rebuild` drops
them and replays every registry entry through the same :class:`~provenance.registry.Registry` that
admits appends, inside the append transaction so that no append interleaves with the rebuild.
"""

from __future__ import annotations

from provenance.entry import decode_leaf
from provenance.registry import Registry
from provenance.statements import REGISTRY_TYPES, parse_envelope, parse_statement
from provenance.store.sql import SqlStore


def rebuild(store: SqlStore) -> Registry:
    """Drop and replay the projections of the log in ``store``; return the registry replayed."""
    registry = Registry()
    with store.write() as txn:
        for index, leaf in txn.entries_of_kinds(0, REGISTRY_TYPES):
            statement = parse_statement(parse_envelope(decode_leaf(leaf).payload))
            registry.apply(statement, index)
        parties, keys = registry.take_dirty_rows()
        txn.clear_projections()
        txn.replace_projection("party", parties)
        txn.replace_projection("party_key", keys)
    return registry
