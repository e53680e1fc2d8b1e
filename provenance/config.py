"""Where the core finds its database, its keys and its name, from the environment.

Every setting has a default that works on a fresh checkout (the embedded SQLite file under ``data/``,
keys under ``keys/``), so that nothing needs configuring before ``make run``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from provenance.log import DEFAULT_MAX_PAYLOAD
from provenance.store.sql import default_sqlite_url

DEFAULT_ORIGIN = "localhost/provenance"
"""The log's origin line (C2SP tlog-checkpoint): a schema-less URL naming this log."""


@dataclass(frozen=True)
class CoreSettings:
    """The settings the ledger core needs."""

    database_url: str
    keys_dir: Path
    origin: str
    max_payload: int

    @classmethod
    def from_env(cls) -> CoreSettings:
        """Read ``PROVENANCE_DATABASE_URL``, ``PROVENANCE_KEYS_DIR``, ``PROVENANCE_ORIGIN`` and
        ``PROVENANCE_MAX_PAYLOAD``, with defaults for the embedded mode."""
        return cls(
            database_url=os.environ.get("PROVENANCE_DATABASE_URL") or default_sqlite_url(),
            keys_dir=Path(os.environ.get("PROVENANCE_KEYS_DIR") or "keys"),
            origin=os.environ.get("PROVENANCE_ORIGIN") or DEFAULT_ORIGIN,
            max_payload=int(os.environ.get("PROVENANCE_MAX_PAYLOAD") or DEFAULT_MAX_PAYLOAD),
        )
