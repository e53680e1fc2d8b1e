"""Service settings, read from ``PROVENANCE_*`` environment variables.

The defaults run the embedded mode (SQLite under ``data/``, keys under ``keys/``) with nothing to
configure. Outside development the service refuses to start with the default admin token.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from provenance.config import DEFAULT_ORIGIN, CoreSettings
from provenance.log import DEFAULT_MAX_PAYLOAD
from provenance.store.sql import default_sqlite_url

DEVELOPMENT_ADMIN_TOKEN = "development-only-admin-token"


class Settings(BaseSettings):
    """Everything the service can be told; each field is an environment variable."""

    model_config = SettingsConfigDict(env_prefix="PROVENANCE_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses default secrets."
    )
    database_url: str = Field(
        default_factory=default_sqlite_url, description="SQLite or PostgreSQL URL."
    )
    keys_dir: Path = Field(Path("keys"), description="Folder of the log and operator keys.")
    origin: str = Field(DEFAULT_ORIGIN, description="The log's checkpoint origin.")
    base_url: str = Field("http://127.0.0.1:8000", description="Public base URL of the service.")
    admin_token: str = Field(
        DEVELOPMENT_ADMIN_TOKEN, description="Bearer token for admin actions (or give its hash)."
    )
    admin_token_sha256: str | None = Field(
        None, description="Hex SHA-256 of the admin token, so the token itself need not be stored."
    )
    max_payload: int = Field(
        DEFAULT_MAX_PAYLOAD, description="Largest statement accepted, in bytes."
    )
    max_body: int = Field(8 * DEFAULT_MAX_PAYLOAD, description="Largest request body, in bytes.")
    max_entries_per_page: int = Field(1000, description="Most log entries one request returns.")
    demo: bool = Field(False, description="Load the demo supply chain into an empty log.")

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        default = self.admin_token == DEVELOPMENT_ADMIN_TOKEN and not self.admin_token_sha256
        if self.environment != "development" and default:
            raise ValueError(
                "set PROVENANCE_ADMIN_TOKEN_SHA256 (or PROVENANCE_ADMIN_TOKEN): "
                "the default token is for development only"
            )
        return self

    def admin_token_hash(self) -> str:
        """The hex SHA-256 the admin bearer token must hash to; only the hash is compared."""
        if self.admin_token_sha256:
            return self.admin_token_sha256.lower()
        return hashlib.sha256(self.admin_token.encode()).hexdigest()

    def core(self) -> CoreSettings:
        """The part of the settings the ledger core needs."""
        return CoreSettings(self.database_url, self.keys_dir, self.origin, self.max_payload)
