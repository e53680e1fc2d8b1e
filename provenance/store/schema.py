"""The database tables: the log itself (entries, tiles, checkpoints) and its projections.

``log_entry``, ``merkle_tile`` and ``log_checkpoint`` are the log. Rows of ``log_entry`` and
``log_checkpoint`` are only ever inserted; a ``merkle_tile`` row at the right edge of the tree grows
by appending hashes (see :mod:`provenance.tiles`). ``review_content`` and ``holder_code`` are kept
beside the log (content the log commits to, codes it must not publish). Every other table is a
projection that ``provenance rebuild`` can drop and replay from the log.

The schema is changed only through Alembic migrations (``provenance/store/migrations``); these
classes are the models the migrations are written against.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text, text
from sqlmodel import Field, SQLModel

# SQLite makes a column the rowid, and so free to index, only when its type is exactly INTEGER.
LogIndex = BigInteger().with_variant(Integer(), "sqlite")


class LogEntry(SQLModel, table=True):
    """One entry of the log: its index, its kind, and its exact leaf bytes."""

    __tablename__ = "log_entry"

    idx: int = Field(sa_column=Column("idx", LogIndex, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=Column("kind", String(64), nullable=False))
    # SHA-256 of what an envelope's signatures sign (its PAE bytes): the key that makes a repeated
    # submission of the same signed statement return the first receipt instead of a second entry.
    digest: bytes | None = Field(
        default=None, sa_column=Column("digest", LargeBinary(32), nullable=True)
    )
    leaf: bytes = Field(sa_column=Column("leaf", LargeBinary, nullable=False))

    # Unique among the entries that have one (statements); a partial index, so that entries
    # without a digest cost no index write.
    __table_args__ = (
        Index(
            "ix_log_entry_digest",
            "digest",
            unique=True,
            sqlite_where=text("digest IS NOT NULL"),
            postgresql_where=text("digest IS NOT NULL"),
        ),
    )


class MerkleTile(SQLModel, table=True):
    """A tile of stored subtree hashes (see :mod:`provenance.tiles`)."""

    __tablename__ = "merkle_tile"

    level: int = Field(sa_column=Column("level", Integer, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column("idx", BigInteger, primary_key=True, autoincrement=False))
    width: int = Field(sa_column=Column("width", Integer, nullable=False))
    hashes: bytes = Field(sa_column=Column("hashes", LargeBinary, nullable=False))


class LogCheckpoint(SQLModel, table=True):
    """A signed checkpoint (a C2SP signed note), one per committed batch, keyed by tree size."""

    __tablename__ = "log_checkpoint"

    size: int = Field(sa_column=Column("size", LogIndex, primary_key=True, autoincrement=False))
    note: str = Field(sa_column=Column("note", Text, nullable=False))


class Party(SQLModel, table=True):
    """Projection: a registered party and its current status."""

    __tablename__ = "party"

    id: str = Field(sa_column=Column("id", String(64), primary_key=True))
    role: str = Field(sa_column=Column("role", String(16), nullable=False))
    name: str = Field(sa_column=Column("name", String(200), nullable=False))
    gln: str | None = Field(default=None, sa_column=Column("gln", String(13), nullable=True))
    country: str | None = Field(default=None, sa_column=Column("country", String(2), nullable=True))
    website: str | None = Field(default=None, sa_column=Column("website", Text, nullable=True))
    status: str = Field(sa_column=Column("status", String(16), nullable=False))
    status_reason: str | None = Field(
        default=None, sa_column=Column("status_reason", Text, nullable=True)
    )
    registered_at: int = Field(sa_column=Column("registered_at", BigInteger, nullable=False))
    updated_at: int = Field(sa_column=Column("updated_at", BigInteger, nullable=False))


class PartyKey(SQLModel, table=True):
    """Projection: an Ed25519 key of a party, with the log index it was added and revoked at."""

    __tablename__ = "party_key"

    keyid: str = Field(sa_column=Column("keyid", String(64), primary_key=True))
    party_id: str = Field(sa_column=Column("party_id", String(64), nullable=False, index=True))
    public_key: bytes = Field(sa_column=Column("public_key", LargeBinary(32), nullable=False))
    added_at: int = Field(sa_column=Column("added_at", BigInteger, nullable=False))
    revoked_at: int | None = Field(
        default=None, sa_column=Column("revoked_at", BigInteger, nullable=True)
    )
    revoke_reason: str | None = Field(
        default=None, sa_column=Column("revoke_reason", Text, nullable=True)
    )


class StatementRow(SQLModel, table=True):
    """Projection: who made which statement at which index, what it points at (a correction's
    target) and which party it is about (for registry statements); the content stays in the log."""

    __tablename__ = "statement"

    idx: int = Field(sa_column=Column("idx", LogIndex, primary_key=True, autoincrement=False))
    type: str = Field(sa_column=Column("type", String(32), nullable=False))
    party: str = Field(sa_column=Column("party", String(64), nullable=False, index=True))
    time_ms: int = Field(sa_column=Column("time_ms", BigInteger, nullable=False))
    target: int | None = Field(
        default=None, sa_column=Column("target", BigInteger, nullable=True, index=True)
    )
    subject: str | None = Field(
        default=None, sa_column=Column("subject", String(64), nullable=True, index=True)
    )


class ItemRef(SQLModel, table=True):
    """Projection: an item (its Digital Link path) named by the attestation at ``idx``."""

    __tablename__ = "item_ref"

    item: str = Field(sa_column=Column("item", String(512), primary_key=True))
    idx: int = Field(sa_column=Column("idx", BigInteger, primary_key=True, index=True))
    role: str = Field(sa_column=Column("role", String(8), primary_key=True))


class LineageEdge(SQLModel, table=True):
    """Projection: the transformation at ``idx`` made ``output`` from ``input``."""

    __tablename__ = "lineage_edge"

    input: str = Field(sa_column=Column("input", String(512), primary_key=True))
    output: str = Field(sa_column=Column("output", String(512), primary_key=True, index=True))
    idx: int = Field(sa_column=Column("idx", BigInteger, primary_key=True))


class EPCISEventRow(SQLModel, table=True):
    """Projection: an EPCIS event, by the index of its ``epcis.event`` entry, for the query API."""

    __tablename__ = "epcis_event"

    idx: int = Field(sa_column=Column("idx", LogIndex, primary_key=True, autoincrement=False))
    capture: int = Field(sa_column=Column("capture", BigInteger, nullable=False))
    position: int = Field(sa_column=Column("position", Integer, nullable=False))
    event_id: str = Field(sa_column=Column("event_id", String(512), nullable=False, unique=True))
    event_type: str = Field(sa_column=Column("event_type", String(32), nullable=False))
    event_time_ms: int = Field(
        sa_column=Column("event_time_ms", BigInteger, nullable=False, index=True)
    )
    biz_step: str | None = Field(default=None, sa_column=Column("biz_step", String(256)))
    biz_location: str | None = Field(default=None, sa_column=Column("biz_location", String(512)))
    read_point: str | None = Field(default=None, sa_column=Column("read_point", String(512)))
    disposition: str | None = Field(default=None, sa_column=Column("disposition", String(256)))
    statement_type: str | None = Field(default=None, sa_column=Column("statement_type", String(32)))


class ReviewContent(SQLModel, table=True):
    """Beside the log, not a projection: a review's content, which the log commits to by a salted
    hash. Erasure blanks the personal fields and keeps the row (and the log) with a marker; a
    rebuild never touches this table, since the log cannot recreate it."""

    __tablename__ = "review_content"

    idx: int = Field(sa_column=Column("idx", LogIndex, primary_key=True, autoincrement=False))
    item: str = Field(sa_column=Column("item", String(512), nullable=False, index=True))
    kind: str = Field(sa_column=Column("kind", String(16), nullable=False))
    rating: int | None = Field(default=None, sa_column=Column("rating", Integer, nullable=True))
    created_ms: int = Field(sa_column=Column("created_ms", BigInteger, nullable=False))
    salt: bytes | None = Field(default=None, sa_column=Column("salt", LargeBinary, nullable=True))
    # The exact bytes committed to (canonical JSON of rating, kind, title, text, name, item).
    content: bytes | None = Field(
        default=None, sa_column=Column("content", LargeBinary, nullable=True)
    )
    contact: str | None = Field(default=None, sa_column=Column("contact", Text, nullable=True))
    # For duplicate detection: SHA-256 of the item and the normalised text; kept after erasure.
    fingerprint: bytes = Field(
        sa_column=Column("fingerprint", LargeBinary(32), nullable=False, unique=True)
    )
    author_token_hash: bytes | None = Field(
        default=None, sa_column=Column("author_token_hash", LargeBinary(32), nullable=True)
    )
    erased_ms: int | None = Field(
        default=None, sa_column=Column("erased_ms", BigInteger, nullable=True)
    )


class HolderCode(SQLModel, table=True):
    """A code printed inside one serial's packaging, stored only as a hash, used at most once."""

    __tablename__ = "holder_code"

    code_hash: bytes = Field(sa_column=Column("code_hash", LargeBinary(32), primary_key=True))
    item: str = Field(sa_column=Column("item", String(512), nullable=False, index=True))
    used_by: int | None = Field(default=None, sa_column=Column("used_by", BigInteger))


# The Core tables behind the models, for SQL that the hot paths build directly (SQLModel's
# ``__table__`` is set by its metaclass, which type checkers cannot see).
LOG_ENTRY: Table = LogEntry.__table__  # type: ignore[attr-defined]
MERKLE_TILE: Table = MerkleTile.__table__  # type: ignore[attr-defined]
LOG_CHECKPOINT: Table = LogCheckpoint.__table__  # type: ignore[attr-defined]
PARTY: Table = Party.__table__  # type: ignore[attr-defined]
PARTY_KEY: Table = PartyKey.__table__  # type: ignore[attr-defined]
STATEMENT: Table = StatementRow.__table__  # type: ignore[attr-defined]
ITEM_REF: Table = ItemRef.__table__  # type: ignore[attr-defined]
LINEAGE_EDGE: Table = LineageEdge.__table__  # type: ignore[attr-defined]
EPCIS_EVENT: Table = EPCISEventRow.__table__  # type: ignore[attr-defined]

LOG_TABLES = (LOG_ENTRY, MERKLE_TILE, LOG_CHECKPOINT)
PROJECTION_TABLES = (PARTY, PARTY_KEY, STATEMENT, ITEM_REF, LINEAGE_EDGE, EPCIS_EVENT)
REVIEW_CONTENT: Table = ReviewContent.__table__  # type: ignore[attr-defined]
HOLDER_CODE: Table = HolderCode.__table__  # type: ignore[attr-defined]
BESIDE_TABLES = (REVIEW_CONTENT, HOLDER_CODE)
"""Kept beside the log: what it commits to but cannot recreate (never dropped by a rebuild)."""


class Webhook(SQLModel, table=True):
    """Beside the log, not a projection: a URL a party asked to be told of events at (operational
    settings, asked for by a signed request that never enters the log). A removed webhook keeps its
    row, with the time of removal, so that its delivery log stays readable."""

    __tablename__ = "webhook"

    id: str = Field(sa_column=Column("id", String(32), primary_key=True))
    party_id: str = Field(sa_column=Column("party_id", String(64), nullable=False, index=True))
    url: str = Field(sa_column=Column("url", Text, nullable=False))
    # Comma-separated event names (only ``complaint`` so far).
    events: str = Field(sa_column=Column("events", String(200), nullable=False))
    # The log size when it was registered: it is told of complaints from this index on.
    since_index: int = Field(sa_column=Column("since_index", BigInteger, nullable=False))
    created_ms: int = Field(sa_column=Column("created_ms", BigInteger, nullable=False))
    # ``key:<keyid>`` of the party key that signed the request, or ``admin``.
    created_by: str = Field(sa_column=Column("created_by", String(80), nullable=False))
    removed_ms: int | None = Field(
        default=None, sa_column=Column("removed_ms", BigInteger, nullable=True)
    )


class WebhookDelivery(SQLModel, table=True):
    """Beside the log: one event owed to one webhook, and how sending it went. ``pending`` rows
    are due at ``next_attempt_ms``; a worker claims one by moving that time ahead by a lease and
    setting ``claim``, so that no other worker sends it meanwhile."""

    __tablename__ = "webhook_delivery"

    id: str = Field(sa_column=Column("id", String(32), primary_key=True))
    webhook_id: str = Field(sa_column=Column("webhook_id", String(32), nullable=False, index=True))
    event: str = Field(sa_column=Column("event", String(32), nullable=False))
    review: int = Field(sa_column=Column("review", BigInteger, nullable=False))
    item: str = Field(sa_column=Column("item", String(512), nullable=False))
    status: str = Field(sa_column=Column("status", String(16), nullable=False))
    attempts: int = Field(sa_column=Column("attempts", Integer, nullable=False))
    next_attempt_ms: int | None = Field(
        default=None, sa_column=Column("next_attempt_ms", BigInteger, nullable=True)
    )
    claim: str | None = Field(default=None, sa_column=Column("claim", String(32), nullable=True))
    last_status: int | None = Field(
        default=None, sa_column=Column("last_status", Integer, nullable=True)
    )
    last_error: str | None = Field(
        default=None, sa_column=Column("last_error", Text, nullable=True)
    )
    created_ms: int = Field(sa_column=Column("created_ms", BigInteger, nullable=False))
    updated_ms: int = Field(sa_column=Column("updated_ms", BigInteger, nullable=False))
    delivered_ms: int | None = Field(
        default=None, sa_column=Column("delivered_ms", BigInteger, nullable=True)
    )

    __table_args__ = (
        # One delivery per webhook, event and review, however many dispatchers see the review.
        Index("ux_webhook_delivery_once", "webhook_id", "review", "event", unique=True),
        Index("ix_webhook_delivery_due", "status", "next_attempt_ms"),
    )


class WebhookCursor(SQLModel, table=True):
    """Beside the log: how far the dispatcher has turned log entries into deliveries."""

    __tablename__ = "webhook_cursor"

    name: str = Field(sa_column=Column("name", String(32), primary_key=True))
    position: int = Field(sa_column=Column("position", BigInteger, nullable=False))


WEBHOOK: Table = Webhook.__table__  # type: ignore[attr-defined]
WEBHOOK_DELIVERY: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
WEBHOOK_CURSOR: Table = WebhookCursor.__table__  # type: ignore[attr-defined]
WEBHOOK_TABLES = (WEBHOOK, WEBHOOK_DELIVERY, WEBHOOK_CURSOR)
"""Also kept beside the log (operational settings and their delivery queue, not facts): never
dropped by a rebuild."""
