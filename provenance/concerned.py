"""Who answers for an item: the parties that something said about it (a complaint) concerns.

A party answers for an item it made a statement about (an attestation, or an EPCIS capture whose
event names it) at the item's own level or at a level above it: a complaint about a serial concerns
whoever attested its lot or its product, and a brand that named a product in a ``product``
statement answers for all its lots and serials. Two kinds of statement make nobody answerable:

* reviews and what follows them (``review.*``), which the operator signs on consumers' behalf, so
  that the operator is not told of every complaint it recorded;
* retracted statements: a party that withdrew what it said about a lot (a mistyped lot number)
  no longer answers for that lot.

A read over the projections (``item_ref``, ``statement``, ``epcis_event``); it never writes.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text

from provenance.attestations import REVIEW, REVIEW_FOLLOWERS
from provenance.queries import item_keys
from provenance.store.sql import Reader

NOT_ANSWERABLE = (REVIEW, *REVIEW_FOLLOWERS)
"""Statement types that name items without making their signer answer for them."""

_CONCERNED = text(
    # Statements naming the item or a level above it...
    "SELECT s.party FROM item_ref r JOIN statement s ON s.idx = r.idx"
    " WHERE r.item IN :keys AND s.type NOT IN :skip"
    " AND NOT EXISTS (SELECT 1 FROM statement x WHERE x.target = s.idx AND x.type = 'retraction')"
    " UNION "
    # ...and EPCIS events naming it, whose item_ref rows sit at the event's index, not the capture's.
    "SELECT s.party FROM item_ref r JOIN epcis_event e ON e.idx = r.idx"
    " JOIN statement s ON s.idx = e.capture WHERE r.item IN :keys"
).bindparams(bindparam("keys", expanding=True), bindparam("skip", expanding=True))


def parties_concerned(reader: Reader, item_key: str) -> set[str]:
    """Return the ids of the parties that answer for the item ``item_key`` (a Digital Link path,
    ``/01/<gtin>/10/<lot>``, or URI): those with a statement naming it or a level above it that is
    neither a review nor retracted. DigitalLinkError if ``item_key`` names no item."""
    keys = list(item_keys(item_key).covered_by)
    rows = reader.connection.execute(_CONCERNED, {"keys": keys, "skip": list(NOT_ANSWERABLE)})
    return {str(row[0]) for row in rows}
