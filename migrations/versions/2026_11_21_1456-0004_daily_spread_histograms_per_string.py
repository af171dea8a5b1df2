"""Daily per-string histograms of cell spread, so long KPI windows read a few rows per string.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 14:56:23.770722+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "rack_spread_1d",
        sa.Column("rack_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("minutes_load", sa.Integer(), nullable=False),
        sa.Column("load_a", sa.REAL(), nullable=False),
        sa.Column("max_mv", sa.REAL(), nullable=True),
        sa.Column("max_mv_load", sa.REAL(), nullable=True),
        sa.Column("bins", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("counts_load", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.ForeignKeyConstraint(
            ["rack_id"],
            ["rack.id"],
            name=op.f("fk_rack_spread_1d_rack_id_rack"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rack_id", "day", name=op.f("pk_rack_spread_1d")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("rack_spread_1d")
