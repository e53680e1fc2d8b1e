"""The committed log's size, as cheaply as one query can tell it.

Every read answer (a checkpoint, a proof, an item) is a function of the log at some size, and the
read routes cache their answers per size. What they must not do is answer from a size older than
what another worker has already acknowledged: so each request still asks the database how big the
log is. Through the store's :meth:`~provenance.store.sql.SqlStore.read` that question costs a pool
checkout and a transaction (about 200 µs on SQLite, 300 µs on PostgreSQL, more than the rest of a
cached answer); on a connection of our own in autocommit mode it is one statement (2 µs on SQLite,
one round trip on PostgreSQL). This module only ever reads that one number.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from provenance.store.sql import SqlStore

# The same question as provenance.store.sql.Reader.size, asked outside a transaction.
_SIZE_QUERY = "SELECT max(idx) FROM log_entry"

WAIT_MS = 5_000
"""The longest the size query may take. It runs on the event loop, so a database that stalls
must not stall the worker with it: past this the query fails (a 500 for that request), and the
next request tries again on a new connection."""


class LogHead:
    """The number of entries ``store`` has committed, read on a connection this object holds."""

    def __init__(self, store: SqlStore, on_shrink: Callable[[], None] | None = None) -> None:
        self.store = store
        self.seen = 0
        """The largest size read so far: the log never shrinks, so any size up to this one exists."""
        self.on_shrink = on_shrink
        """Called when the database holds fewer entries than were seen: it is not the log this
        worker watched grow (a restored backup, a failover to a replica that lags), and nothing
        read from that one may be answered again."""
        self._engine: Engine = store.reader
        self._errors: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        self._connection: Any = None
        self._lock = threading.Lock()
        # Closing the store disposes its engines; the held connection goes with them.
        event.listen(self._engine, "engine_disposed", self._on_disposed)

    def size(self) -> int:
        """Return the number of committed entries, as of now."""
        with self._lock:
            try:
                size = self._read()
            except self._errors:
                # A connection the server dropped (a restart): one retry on a new one.
                self._close()
                size = self._read()
            shrunk, self.seen = size < self.seen, size
        if shrunk and self.on_shrink is not None:
            self.on_shrink()
        return size

    def at_least(self, size: int) -> int:
        """Return a committed size of at least ``size`` if there is one (without asking the
        database when an earlier answer already covers it), else the current size."""
        return self.seen if size <= self.seen else self.size()

    def _read(self) -> int:
        if self._connection is None:
            # Detached from the pool: it is ours for good, and closing it really closes it.
            fairy = self._engine.raw_connection()
            fairy.detach()
            connection: Any = fairy.dbapi_connection
            if self.store.dialect == "postgresql":
                # Each query its own transaction: no snapshot held open between requests.
                connection.rollback()  # the pool's liveness check may have opened one
                connection.autocommit = True
                connection.execute(f"SET statement_timeout = {WAIT_MS}")
            else:
                connection.execute(f"PRAGMA busy_timeout = {WAIT_MS}")
            self._connection = fairy
        cursor = self._connection.cursor()
        try:
            cursor.execute(_SIZE_QUERY)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(self._errors):  # already broken: nothing left to release
                connection.close()

    def _on_disposed(self, _engine: Engine) -> None:
        with self._lock:
            self._close()
