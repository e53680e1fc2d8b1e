"""Bring a database's schema to the newest Alembic revision, programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """Return an Alembic config that points at the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` inside the caller's transaction."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision``; safe to call on an up-to-date database."""
    with engine.begin() as connection:
        upgrade_connection(connection, revision)
