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
DEVELOPMENT_SECRET_KEY = "development-only-secret-key"


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
    feed_heartbeat: float = Field(
        15.0, gt=0, description="Seconds between the live feed's heartbeats (under proxy timeouts)."
    )
    feed_poll: float = Field(
        0.1, gt=0, description="Seconds between the live feed's looks for other workers' appends."
    )
    feed_backlog: int = Field(
        1000, ge=1, description="Events held for a slow live-feed client before it is dropped."
    )
    secret_key: str = Field(
        DEVELOPMENT_SECRET_KEY,
        description="Signs the review form's CSRF tokens; shared by every worker and replica.",
    )
    trusted_proxy: bool = Field(
        False, description="Take the client address from X-Forwarded-For (behind a proxy)."
    )
    reviews_per_minute_per_client: float = Field(
        6, description="Reviews one client address may post per minute (after its burst)."
    )
    review_burst_per_client: int = Field(5, description="Reviews a client may post at once.")
    reviews_per_minute_per_item: float = Field(
        60, description="Reviews one item may receive per minute (after its burst)."
    )
    review_burst_per_item: int = Field(30, description="Reviews an item may receive at once.")
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Attempts at a webhook delivery before it is marked failed."
    )
    webhook_backoff: float = Field(
        1.0, gt=0, description="Seconds before a delivery's first retry; doubled at each retry."
    )
    webhook_backoff_max: float = Field(
        3600.0, gt=0, description="Longest wait between two attempts at a delivery, in seconds."
    )
    webhook_timeout: float = Field(
        10.0, gt=0, description="Seconds a webhook receiver has to connect, and then to answer."
    )
    webhook_poll: float = Field(
        1.0, gt=0, description="Seconds between the webhook dispatcher's looks for work."
    )
    webhook_allow_private_urls: bool = Field(
        default_factory=lambda data: data.get("environment", "development") == "development",
        description="Accept webhook URLs on private or loopback addresses (default: in development).",
    )

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        default = self.admin_token == DEVELOPMENT_ADMIN_TOKEN and not self.admin_token_sha256
        if self.environment != "development" and default:
            raise ValueError(
                "set PROVENANCE_ADMIN_TOKEN_SHA256 (or PROVENANCE_ADMIN_TOKEN): "
                "the default token is for development only"
            )
        if self.environment != "development" and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise ValueError("set PROVENANCE_SECRET_KEY: the default key is for development only")
        return self

    def admin_token_hash(self) -> str:
        """The hex SHA-256 the admin bearer token must hash to; only the hash is compared."""
        if self.admin_token_sha256:
            return self.admin_token_sha256.lower()
        return hashlib.sha256(self.admin_token.encode()).hexdigest()

    def core(self) -> CoreSettings:
        """The part of the settings the ledger core needs."""
        return CoreSettings(self.database_url, self.keys_dir, self.origin, self.max_payload)
