"""Webhooks: what parties asked to be told of, the deliveries owed to them, and the dispatcher's
cursor over the log (beside the log, never rebuilt from it).

The cursor starts at the log's size when this migration runs: complaints already in the log were
made before any webhook existed and are owed to nobody.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.String(200), nullable=False),
        sa.Column("since_index", sa.BigInteger, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("removed_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_webhook_party_id", "webhook", ["party_id"])
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("webhook_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("review", sa.BigInteger, nullable=False),
        sa.Column("item", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=True),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("delivered_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_webhook_delivery_webhook_id", "webhook_delivery", ["webhook_id"])
    op.create_index(
        "ux_webhook_delivery_once",
        "webhook_delivery",
        ["webhook_id", "review", "event"],
        unique=True,
    )
    op.create_index("ix_webhook_delivery_due", "webhook_delivery", ["status", "next_attempt_ms"])
    op.create_table(
        "webhook_cursor",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO webhook_cursor (name, position)"
        " SELECT 'complaint', COALESCE(max(idx) + 1, 0) FROM log_entry"
    )


def downgrade() -> None:
    op.drop_table("webhook_cursor")
    op.drop_index("ix_webhook_delivery_due", "webhook_delivery")
    op.drop_index("ux_webhook_delivery_once", "webhook_delivery")
    op.drop_index("ix_webhook_delivery_webhook_id", "webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index("ix_webhook_party_id", "webhook")
    op.drop_table("webhook")
