"""Fixtures shared by the whole suite: real databases (a SQLite file and the PostgreSQL server on
this machine), keys, and ledgers built on them.

PostgreSQL is not optional: a test that asks for it fails, never skips, when the server at
``PROVENANCE_TEST_POSTGRES_URL`` (default 127.0.0.1:5432, user postgres, database test) is not
reachable. Each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from provenance.bootstrap import founding_statement
from provenance.keyfiles import OperatorKeys, init_keys
from provenance.ledger import Ledger
from provenance.log import Log
from provenance.store.sql import SqlStore

POSTGRES_URL = os.environ.get(
    "PROVENANCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ORIGIN = "test.example/log"
BACKENDS = ["sqlite", "postgresql"]
pytest_plugins = ["live_fixtures"]


def _postgres_conninfo() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's URL; fails the test (never skips) when it cannot be reached."""
    try:
        with psycopg.connect(_postgres_conninfo(), connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} and is not reachable: {e}")
    return POSTGRES_URL


def new_postgres_schema(server: str) -> tuple[str, Callable[[], None]]:
    """Create an empty schema and return a database URL confined to it, and a function that drops it."""
    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(_postgres_conninfo(), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(_postgres_conninfo(), autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options=-csearch_path%3D{schema}", drop


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to a new, empty database: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    url, drop = new_postgres_schema(request.getfixturevalue("postgres_server"))
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def operator_keys(tmp_path: Path) -> OperatorKeys:
    """Fresh log and operator keys in a temporary keys folder."""
    keys, _ = init_keys(tmp_path / "keys", ORIGIN)
    return keys


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    """A migrated, empty store."""
    opened = SqlStore.open(db_url)
    yield opened
    opened.close()


@pytest.fixture
def log(store: SqlStore, operator_keys: OperatorKeys) -> Log:
    """An empty log signing with the test log key."""
    return Log(store, operator_keys.log_signer, max_payload=64 * 1024)


@pytest.fixture
def ledger(log: Log, operator_keys: OperatorKeys) -> Iterator[Ledger]:
    """A ledger founded by the test operator (entry 0)."""
    opened = Ledger(log)
    opened.commit([opened.prepare(founding_statement(operator_keys))])
    yield opened
    opened.close()
