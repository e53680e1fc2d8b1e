"""Projections of statements: who said what at which index, the items named, lineage edges, and
the EPCIS events captured.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LOG_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "statement",
        sa.Column("idx", LOG_INDEX, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("party", sa.String(64), nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
        sa.Column("target", sa.BigInteger, nullable=True),
        sa.Column("subject", sa.String(64), nullable=True),
    )
    op.create_index("ix_statement_party", "statement", ["party"])
    op.create_index("ix_statement_target", "statement", ["target"])
    op.create_index("ix_statement_subject", "statement", ["subject"])
    op.create_table(
        "item_ref",
        sa.Column("item", sa.String(512), primary_key=True),
        sa.Column("idx", sa.BigInteger, primary_key=True),
        sa.Column("role", sa.String(8), primary_key=True),
    )
    op.create_index("ix_item_ref_idx", "item_ref", ["idx"])
    op.create_table(
        "lineage_edge",
        sa.Column("input", sa.String(512), primary_key=True),
        sa.Column("output", sa.String(512), primary_key=True),
        sa.Column("idx", sa.BigInteger, primary_key=True),
    )
    op.create_index("ix_lineage_edge_output", "lineage_edge", ["output"])
    op.create_table(
        "epcis_event",
        sa.Column("idx", LOG_INDEX, primary_key=True, autoincrement=False),
        sa.Column("capture", sa.BigInteger, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(512), nullable=False, unique=True),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("event_time_ms", sa.BigInteger, nullable=False),
        sa.Column("biz_step", sa.String(256), nullable=True),
        sa.Column("biz_location", sa.String(512), nullable=True),
        sa.Column("read_point", sa.String(512), nullable=True),
        sa.Column("disposition", sa.String(256), nullable=True),
        sa.Column("statement_type", sa.String(32), nullable=True),
    )
    op.create_index("ix_epcis_event_event_time_ms", "epcis_event", ["event_time_ms"])


def downgrade() -> None:
    op.drop_index("ix_epcis_event_event_time_ms", "epcis_event")
    op.drop_table("epcis_event")
    op.drop_index("ix_lineage_edge_output", "lineage_edge")
    op.drop_table("lineage_edge")
    op.drop_index("ix_item_ref_idx", "item_ref")
    op.drop_table("item_ref")
    op.drop_index("ix_statement_subject", "statement")
    op.drop_index("ix_statement_target", "statement")
    op.drop_index("ix_statement_party", "statement")
    op.drop_table("statement")
