"""The log (entries, tiles, checkpoints) and the party registry projections.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LOG_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "log_entry",
        sa.Column("idx", LOG_INDEX, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=True),
        sa.Column("leaf", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_log_entry_digest",
        "log_entry",
        ["digest"],
        unique=True,
        sqlite_where=sa.text("digest IS NOT NULL"),
        postgresql_where=sa.text("digest IS NOT NULL"),
    )
    op.create_table(
        "merkle_tile",
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "log_checkpoint",
        sa.Column("size", LOG_INDEX, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "party",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("gln", sa.String(13), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("website", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("registered_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "party_key",
        sa.Column("keyid", sa.String(64), primary_key=True),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.Column("revoke_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_party_key_party_id", "party_key", ["party_id"])


def downgrade() -> None:
    op.drop_index("ix_party_key_party_id", "party_key")
    op.drop_index("ix_log_entry_digest", "log_entry")
    for table in ("party_key", "party", "log_checkpoint", "merkle_tile", "log_entry"):
        op.drop_table(table)
