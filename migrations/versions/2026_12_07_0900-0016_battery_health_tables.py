"""Battery health: daily per-cell deviation scores and apparent leakage, the daily weak-cell
watch list, and the health job's progress.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    """A cascading foreign key named by the project's convention."""
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create the three health tables."""
    op.create_table(
        "cell_score_1d",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("load_samples", sa.Integer(), nullable=False),
        sa.Column("rest_samples", sa.Integer(), nullable=False),
        sa.Column("load_score", postgresql.ARRAY(sa.REAL()), nullable=True),
        sa.Column("rest_score", postgresql.ARRAY(sa.REAL()), nullable=True),
        sa.Column("leak_ma", postgresql.ARRAY(sa.REAL()), nullable=False),
        sa.Column("rest_offset_mv", postgresql.ARRAY(sa.REAL()), nullable=True),
        sa.Column("discharge_offset_mv", postgresql.ARRAY(sa.REAL()), nullable=True),
        fk("cell_score_1d", "module_id", "module"),
        sa.PrimaryKeyConstraint("module_id", "day", name=op.f("pk_cell_score_1d")),
    )
    op.create_table(
        "cell_watch_1d",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("cell", sa.SmallInteger(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("score", sa.REAL(), nullable=False),
        sa.Column("regime", sa.Text(), nullable=False),
        sa.Column("slope_per_day", sa.REAL(), nullable=False),
        sa.Column("cusum", sa.REAL(), nullable=False),
        sa.Column("level", sa.REAL(), nullable=False),
        sa.Column("days", sa.SmallInteger(), nullable=False),
        fk("cell_watch_1d", "site_id", "site"),
        fk("cell_watch_1d", "module_id", "module"),
        sa.PrimaryKeyConstraint(
            "site_id", "day", "module_id", "cell", name=op.f("pk_cell_watch_1d")
        ),
    )
    op.create_table(
        "health_day_done",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        fk("health_day_done", "site_id", "site"),
        sa.PrimaryKeyConstraint("site_id", "day", name=op.f("pk_health_day_done")),
    )


def downgrade() -> None:
    """Drop the health tables."""
    op.drop_table("health_day_done")
    op.drop_table("cell_watch_1d")
    op.drop_table("cell_score_1d")
