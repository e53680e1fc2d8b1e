"""The SQL implementation of the log store, for SQLite (embedded default) and PostgreSQL.

It owns connections, transactions and the one lock that serializes appends across threads, processes
and machines: SQLite's ``BEGIN IMMEDIATE`` (one writer per database file) and, on PostgreSQL, a
transaction-scoped advisory lock taken before the log head is read. It stores and returns bytes; it
never hashes, signs or interprets them (that is :mod:`provenance.log`'s job).

Durability: SQLite runs in WAL mode with ``synchronous=FULL``, so a commit that returned survives a
crash or power loss; PostgreSQL's default ``synchronous_commit=on`` gives the same.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, TextClause, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from provenance.errors import StoreError
from provenance.store import migrate
from provenance.store.schema import (
    EPCIS_EVENT,
    ITEM_REF,
    LOG_ENTRY,
    PARTY,
    PARTY_KEY,
    PROJECTION_TABLES,
)
from provenance.tiles import Tile, TileKey

APPEND_LOCK_ID = 0x70726F76  # "prov": the PostgreSQL advisory lock that guards the log head
SQLITE_BUSY_TIMEOUT_MS = 60_000
ROWS_PER_INSERT = 256
"""Rows per INSERT statement on the append path, at most: a fixed size keeps the statement texts
few, so the driver's statement cache keeps them prepared (preparing a 1,000-row insert anew costs
as much as running it)."""
MAX_PARAMETERS = 999
"""Parameters one statement may bind: SQLite before 3.32 allows 999 (3.32 and later 32,766,
PostgreSQL 65,535), so a statement stays within every version either database may have."""


def normalize_url(url: str) -> str:
    """Return ``url`` with the psycopg driver named for PostgreSQL and a SQLite folder created."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return url


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own implicit BEGIN would defeat BEGIN IMMEDIATE; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Straight to the driver: every append's transaction starts here.
        connection.connection.dbapi_connection.execute(begin)  # type: ignore[union-attr]

    return engine


class SqlStore:
    """Entries, tiles, checkpoints and registry projections in one SQL database."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self._lock_path: str | None = None
        if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
            self._lock_path = f"{parsed.database}.append-lock"
        if self.dialect == "sqlite":
            self.writer = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self.reader = _sqlite_engine(self.url, "BEGIN")
        elif self.dialect == "postgresql":
            self.writer = create_engine(self.url, pool_pre_ping=True)
            self.reader = self.writer
        else:
            raise StoreError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> SqlStore:
        """Open the store at ``url``, first bringing its schema up to date unless told not to."""
        store = cls(url)
        if migrate_schema:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Apply pending Alembic migrations, holding the append lock so that workers do not race."""
        if self.dialect == "postgresql":
            with self.writer.begin() as connection:
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK_ID})
                migrate.upgrade_connection(connection)
        else:
            migrate.upgrade(self.writer)

    def close(self) -> None:
        """Release every pooled connection."""
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()

    # --- Writing --------------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """Open the one write transaction that may append, holding the append lock until commit."""
        with self._process_lock(), self.writer.begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK_ID})
            yield WriteTransaction(connection, self.dialect)

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        """On SQLite, queue writer processes on a file lock before BEGIN IMMEDIATE.

        SQLite's own lock is what keeps the log from forking, but a process that finds it taken
        polls with sleeps of up to 100 ms; waiting on an flock instead wakes the next writer the
        moment the last one commits, which keeps latency low when several workers append.
        """
        if self._lock_path is None:
            yield
            return
        with open(self._lock_path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- Reading --------------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Reader]:
        """Open a read transaction that sees one consistent snapshot of the log throughout.

        SQLite's WAL gives every read transaction a snapshot; PostgreSQL needs REPEATABLE READ for
        that, or a reader of several tables (a replay, a proof) could see an append land midway.
        """
        with self.reader.connect() as connection:
            if self.dialect == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield Reader(connection)


_SIZE = text("SELECT max(idx) FROM log_entry")


class Reader:
    """Reads from the log and its projections within one transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def size(self) -> int:
        """Return the number of entries in the log."""
        row = self.connection.execute(_SIZE).scalar()
        return 0 if row is None else int(row) + 1

    def leaf(self, index: int) -> bytes | None:
        """Return the leaf bytes of entry ``index``, or None if there is none."""
        value = self.connection.execute(
            text("SELECT leaf FROM log_entry WHERE idx = :i"), {"i": index}
        ).scalar()
        return None if value is None else blob(value)

    def leaves(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """Return (index, leaf bytes) of the stored entries with start <= index < end, in order."""
        rows = self.connection.execute(
            text("SELECT idx, leaf FROM log_entry WHERE idx >= :a AND idx < :b ORDER BY idx"),
            {"a": start, "b": end},
        )
        return [(int(i), blob(leaf)) for i, leaf in rows]

    def iter_leaves(self, start: int = 0, chunk: int = 20_000) -> Iterator[tuple[int, bytes]]:
        """Yield (index, leaf bytes) of every stored entry from ``start`` on, in order, by chunks."""
        position = start
        while True:
            rows = self.connection.execute(
                text("SELECT idx, leaf FROM log_entry WHERE idx >= :a ORDER BY idx LIMIT :n"),
                {"a": position, "n": chunk},
            ).all()
            if not rows:
                return
            for index, leaf in rows:
                yield int(index), blob(leaf)
            position = int(rows[-1][0]) + 1

    def entries_of_kinds(self, start: int, kinds: Sequence[str]) -> list[tuple[int, bytes]]:
        """Return (index, leaf) of entries from ``start`` on whose kind is one of ``kinds``."""
        if not kinds:
            return []
        table = LOG_ENTRY
        rows = self.connection.execute(
            table.select()
            .with_only_columns(table.c.idx, table.c.leaf)
            .where(table.c.idx >= start, table.c.kind.in_(list(kinds)))
            .order_by(table.c.idx)
        )
        return [(int(i), blob(leaf)) for i, leaf in rows]

    def index_of_digest(self, digest: bytes) -> int | None:
        """Return the index of the entry whose statement digest is ``digest``, if any."""
        value = self.connection.execute(
            text("SELECT idx FROM log_entry WHERE digest = :d"), {"d": digest}
        ).scalar()
        return None if value is None else int(value)

    def tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, Tile]:
        """Return the stored tiles among ``keys``; absent ones are left out."""
        return _read_tiles(self.connection, keys)

    def tiles_of_level(self, level: int, start: int, end: int) -> dict[int, tuple[int, bytes]]:
        """Return {tile index: (width, hashes)} of the stored tiles of ``level`` in [start, end)."""
        rows = self.connection.execute(
            text(
                "SELECT idx, width, hashes FROM merkle_tile"
                " WHERE level = :l AND idx >= :a AND idx < :b"
            ),
            {"l": level, "a": start, "b": end},
        )
        return {int(i): (int(w), blob(h)) for i, w, h in rows}

    def statement_count(self) -> int:
        """Return how many entries carry a signed statement (those with a digest)."""
        value = self.connection.execute(
            text("SELECT count(*) FROM log_entry WHERE digest IS NOT NULL")
        ).scalar()
        return int(value or 0)

    def tile_count(self) -> int:
        """Return how many tiles are stored."""
        return int(self.connection.execute(text("SELECT count(*) FROM merkle_tile")).scalar() or 0)

    def iter_tiles(self) -> Iterator[tuple[TileKey, int, bytes]]:
        """Yield every stored tile as (key, width, hashes), by level then index."""
        rows = self.connection.execute(
            text("SELECT level, idx, width, hashes FROM merkle_tile ORDER BY level, idx")
        )
        for level, index, width, hashes in rows:
            yield (int(level), int(index)), int(width), blob(hashes)

    def checkpoint(self, size: int | None = None) -> tuple[int, str] | None:
        """Return (size, note) of the checkpoint at ``size``, or of the latest when size is None."""
        if size is None:
            query = "SELECT size, note FROM log_checkpoint ORDER BY size DESC LIMIT 1"
        else:
            query = "SELECT size, note FROM log_checkpoint WHERE size = :s"
        row = self.connection.execute(text(query), {"s": size}).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def checkpoint_covering(self, index: int) -> tuple[int, str] | None:
        """Return the first checkpoint whose tree includes entry ``index``: the one of its batch."""
        row = self.connection.execute(
            text("SELECT size, note FROM log_checkpoint WHERE size > :i ORDER BY size LIMIT 1"),
            {"i": index},
        ).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def iter_checkpoints(self) -> Iterator[tuple[int, str]]:
        """Yield every stored checkpoint as (size, note), smallest first."""
        rows = self.connection.execute(text("SELECT size, note FROM log_checkpoint ORDER BY size"))
        for size, note in rows:
            yield int(size), str(note)

    def parties(self) -> list[dict[str, Any]]:
        """Return the party projection rows."""
        rows = self.connection.execute(PARTY.select().order_by(PARTY.c.id))
        return [dict(row._mapping) for row in rows]

    def party_keys(self) -> list[dict[str, Any]]:
        """Return the key projection rows."""
        table = PARTY_KEY
        rows = self.connection.execute(table.select().order_by(table.c.keyid))
        return [dict(row._mapping) for row in rows]


def _subjects_of(connection: Connection, index: int) -> list[str]:
    rows = connection.execute(
        ITEM_REF.select()
        .with_only_columns(ITEM_REF.c.item)
        .where((ITEM_REF.c.idx == index) & (ITEM_REF.c.role == "subject"))
    ).all()
    return [str(r[0]) for r in rows]


class WriteTransaction(Reader):
    """The append transaction: everything a batch reads and writes while holding the lock."""

    def __init__(self, connection: Connection, dialect: str) -> None:
        super().__init__(connection)
        self.dialect = dialect

    def first_row(self, statement: TextClause, params: dict[str, Any]) -> Any:
        """Run one SQL statement (``:name`` parameters) and return its first row, or None.

        On SQLite it goes straight to the driver, in this same transaction: it runs under the
        append lock, where SQLAlchemy's own cost per call (about 70 µs) would be most of it."""
        if self.dialect == "sqlite":
            cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                return cursor.execute(statement.text, params).fetchone()
            finally:
                cursor.close()
        return self.connection.execute(statement, params).first()

    def size(self) -> int:
        """Return the number of entries in the log (asked once per batch, under the lock)."""
        row = self.first_row(_SIZE, {})
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def subjects_of(self, index: int) -> list[str]:
        """The items the statement at ``index`` names as its subject."""
        return _subjects_of(self.connection, index)

    def indexes_of_digests(self, digests: Sequence[bytes]) -> dict[bytes, int]:
        """Return, for those of ``digests`` already in the log, the index of their entry."""
        if not digests:
            return {}
        found: dict[bytes, int] = {}
        for start in range(0, len(digests), MAX_PARAMETERS):
            chunk = digests[start : start + MAX_PARAMETERS]
            markers = ", ".join("?" * len(chunk))
            rows = self._fetchall(
                f"SELECT digest, idx FROM log_entry WHERE digest IN ({markers})", list(chunk)
            )
            found.update((blob(d), int(i)) for d, i in rows)
        return found

    def existing_event_ids(self, event_ids: Sequence[str]) -> list[str]:
        """Return those of ``event_ids`` that an earlier capture already recorded."""
        if not event_ids:
            return []
        table = EPCIS_EVENT
        rows = self.connection.execute(
            table.select()
            .with_only_columns(table.c.event_id)
            .where(table.c.event_id.in_(event_ids))
        )
        return [str(r[0]) for r in rows]

    def insert_entries(self, rows: Sequence[tuple[int, str, bytes | None, bytes]]) -> None:
        """Insert (index, kind, digest, leaf) rows; the caller has checked that they extend the log."""
        self._insert("INSERT INTO log_entry (idx, kind, digest, leaf) VALUES", list(rows))

    def insert_leaves(
        self,
        start: int,
        kinds: Sequence[str],
        leaves: Sequence[bytes],
        digests: Sequence[bytes | None] | None = None,
    ) -> None:
        """Insert consecutive entries from index ``start``, column by column; ``digests`` is None
        when no entry has a statement digest. The caller has checked that they extend the log."""
        indexes = range(start, start + len(leaves))
        if digests is None:
            # Leaving the column out stores the same NULL, and SQLite inserts about 0.3 µs a row
            # faster than when it binds one.
            self._insert(
                "INSERT INTO log_entry (idx, kind, leaf) VALUES",
                list(zip(indexes, kinds, leaves, strict=True)),
            )
        else:
            self._insert(
                "INSERT INTO log_entry (idx, kind, digest, leaf) VALUES",
                list(zip(indexes, kinds, digests, leaves, strict=True)),
            )

    def put_tiles(self, tiles: Iterable[Tile]) -> None:
        """Insert new tiles and grow the stored right-edge ones."""
        self._insert(
            "INSERT INTO merkle_tile (level, idx, width, hashes) VALUES",
            [(t.key[0], t.key[1], t.width, t.to_bytes()) for t in tiles],
            " ON CONFLICT (level, idx) DO UPDATE"
            " SET width = excluded.width, hashes = excluded.hashes",
        )

    def insert_checkpoint(self, size: int, note: str) -> None:
        """Store the signed checkpoint of a committed batch."""
        self._insert("INSERT INTO log_checkpoint (size, note) VALUES", [(size, note)])

    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Run one query (``?`` markers) straight through the driver and return its rows."""
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        cursor: Any = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            return list(cursor.execute(sql, params).fetchall())
        finally:
            cursor.close()

    def _insert(self, head: str, rows: Sequence[tuple[Any, ...]], tail: str = "") -> None:
        """Insert ``rows`` (tuples of equal length) with ``head`` (``INSERT INTO t (...) VALUES``)
        and ``tail`` (an ON CONFLICT clause), many rows per statement, straight to the driver.

        These run in every batch, under the append lock. SQLAlchemy Core would build and compile
        each insert anew; the driver's ``executemany`` steps row by row, and SQLite's driver lets
        go of the GIL at every step, which under many threads makes the committer queue for it
        again each row. One statement of many rows is both faster (SQLite: 0.8 ms for 1,000 leaf
        rows against 1.25 ms) and one wait for the GIL.
        """
        if not rows:
            return
        marker = "%s" if self.dialect == "postgresql" else "?"
        row_markers = "(" + ", ".join([marker] * len(rows[0])) + ")"
        per_statement = max(1, min(ROWS_PER_INSERT, MAX_PARAMETERS // len(rows[0])))
        cursor: Any = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                values = ", ".join([row_markers] * len(chunk))
                cursor.execute(f"{head} {values}{tail}", list(chain.from_iterable(chunk)))
        finally:
            cursor.close()

    def replace_projection(self, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Upsert projection rows by primary key."""
        if not rows:
            return
        table = next(t for t in PROJECTION_TABLES if t.name == table_name)
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(table)
        key = [c for c in table.primary_key.columns]
        statement = statement.on_conflict_do_update(
            index_elements=key,
            set_={c.name: statement.excluded[c.name] for c in table.columns if not c.primary_key},
        )
        self.connection.execute(statement, list(rows))

    def insert_projection(self, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows, which all have the same keys, into a projection table."""
        if not rows:
            return
        table = next(t for t in PROJECTION_TABLES if t.name == table_name)
        # Straight to the driver (a group commit writes these every batch): projection columns
        # hold integers, strings and bytes, which both drivers bind as SQLAlchemy would, and
        # none has a default for SQLAlchemy to fill in.
        names = [c.name for c in table.columns if c.name in rows[0]]
        self._insert(
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES",
            [tuple(row[name] for name in names) for row in rows],
        )

    def clear_projections(self) -> None:
        """Delete every projection row (for a rebuild); the log tables are never touched."""
        for table in reversed(PROJECTION_TABLES):
            self.connection.execute(table.delete())


def _read_tiles(connection: Connection, keys: Iterable[TileKey]) -> dict[TileKey, Tile]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    clauses = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(len(wanted)))
    params: dict[str, int] = {}
    for n, (level, index) in enumerate(wanted):
        params[f"l{n}"] = level
        params[f"i{n}"] = index
    rows = connection.execute(
        text(f"SELECT level, idx, width, hashes FROM merkle_tile WHERE {clauses}"), params
    )
    return {
        (int(level), int(index)): Tile.from_bytes((int(level), int(index)), int(width), blob(data))
        for level, index, width, data in rows
    }


def blob(value: object) -> bytes:
    """Return a BLOB column's value as bytes.

    SQLite is dynamically typed: a row written by hand (``leaf || x'21'``) can hold TEXT where the
    log wrote a BLOB. Its bytes are still what must be verified, so they are read, not refused.
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return bytes(cast(memoryview, value))


def default_sqlite_url(data_dir: str | os.PathLike[str] = "data") -> str:
    """Return the embedded default database URL: a SQLite file under ``data_dir``."""
    return f"sqlite:///{Path(data_dir) / 'provenance.db'}"
