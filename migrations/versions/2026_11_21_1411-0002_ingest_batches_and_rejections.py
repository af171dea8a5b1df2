"""Ingest bookkeeping: batches stored (idempotency) and rows refused with their reasons.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 14:11:09.286301+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ingest_batch",
        sa.Column("edge_device_id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_modules", sa.Integer(), nullable=False),
        sa.Column("n_strings", sa.Integer(), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("n_rejected", sa.Integer(), nullable=False),
        sa.Column(
            "counters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["edge_device_id"],
            ["edge_device.id"],
            name=op.f("fk_ingest_batch_edge_device_id_edge_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edge_device_id", "edge_id", "seq", name=op.f("pk_ingest_batch")),
    )
    op.create_index("ix_ingest_batch_received_at", "ingest_batch", ["received_at"], unique=False)
    op.create_table(
        "ingest_rejection",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("edge_device_id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edge_device_id"],
            ["edge_device.id"],
            name=op.f("fk_ingest_rejection_edge_device_id_edge_device"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
            name=op.f("fk_ingest_rejection_site_id_site"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_rejection")),
    )
    op.create_index(
        "ix_ingest_rejection_site_id_received_at",
        "ingest_rejection",
        ["site_id", sa.literal_column("received_at DESC")],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_ingest_rejection_site_id_received_at", table_name="ingest_rejection")
    op.drop_table("ingest_rejection")
    op.drop_index("ix_ingest_batch_received_at", table_name="ingest_batch")
    op.drop_table("ingest_batch")
