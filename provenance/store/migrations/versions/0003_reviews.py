"""Reviews: their content beside the log (committed to by a salted hash, erasable) and the holder
codes printed inside packaging (hashes only, each used once).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LOG_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_content",
        sa.Column("idx", LOG_INDEX, primary_key=True, autoincrement=False),
        sa.Column("item", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rating", sa.Integer, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("salt", sa.LargeBinary, nullable=True),
        sa.Column("content", sa.LargeBinary, nullable=True),
        sa.Column("contact", sa.Text, nullable=True),
        sa.Column("fingerprint", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("author_token_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("erased_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_review_content_item", "review_content", ["item"])
    op.create_table(
        "holder_code",
        sa.Column("code_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("item", sa.String(512), nullable=False),
        sa.Column("used_by", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_holder_code_item", "holder_code", ["item"])


def downgrade() -> None:
    op.drop_index("ix_holder_code_item", "holder_code")
    op.drop_table("holder_code")
    op.drop_index("ix_review_content_item", "review_content")
    op.drop_table("review_content")
