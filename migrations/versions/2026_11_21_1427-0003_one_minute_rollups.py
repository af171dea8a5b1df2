"""One-minute rollups of module and string samples, and the rollup job's work queue.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 14:27:08.344676+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Rollups are kept far longer than raw samples; a week per chunk keeps chunk counts small.
ROLLUP_CHUNK = "7 days"

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "rollup_dirty",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "bucket", name=op.f("pk_rollup_dirty")),
    )
    op.create_table(
        "rack_sample_1m",
        sa.Column("rack_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("voltage_v_avg", sa.REAL(), nullable=True),
        sa.Column("current_a_avg", sa.REAL(), nullable=True),
        sa.Column("current_a_min", sa.REAL(), nullable=True),
        sa.Column("current_a_max", sa.REAL(), nullable=True),
        sa.Column("power_kw_avg", sa.REAL(), nullable=True),
        sa.Column("soc_pct_avg", sa.REAL(), nullable=True),
        sa.Column("cell_v_min", sa.REAL(), nullable=True),
        sa.Column("cell_v_max", sa.REAL(), nullable=True),
        sa.Column("spread_mv_max", sa.REAL(), nullable=True),
        sa.Column("spread_mv_p95", sa.REAL(), nullable=True),
        sa.Column("closed_samples", sa.Integer(), nullable=False),
        sa.Column("charge_limit_a_min", sa.REAL(), nullable=True),
        sa.Column("discharge_limit_a_min", sa.REAL(), nullable=True),
        sa.Column("energy_charged_kwh_max", sa.Double(), nullable=True),
        sa.Column("energy_discharged_kwh_max", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rack_id"],
            ["rack.id"],
            name=op.f("fk_rack_sample_1m_rack_id_rack"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rack_id", "bucket", name=op.f("pk_rack_sample_1m")),
    )
    op.create_table(
        "module_sample_1m",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("soc_pct_avg", sa.REAL(), nullable=True),
        sa.Column("current_a_avg", sa.REAL(), nullable=True),
        sa.Column("current_a_abs_max", sa.REAL(), nullable=True),
        sa.Column("voltage_v_avg", sa.REAL(), nullable=True),
        sa.Column("cell_v_min", sa.REAL(), nullable=False),
        sa.Column("cell_v_max", sa.REAL(), nullable=False),
        sa.Column("cell_v_avg", sa.REAL(), nullable=False),
        sa.Column("spread_mv_avg", sa.REAL(), nullable=False),
        sa.Column("spread_mv_max", sa.REAL(), nullable=False),
        sa.Column("spread_mv_p95", sa.REAL(), nullable=False),
        sa.Column("temp_c_max", sa.REAL(), nullable=True),
        sa.Column("balancing_samples", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_module_sample_1m_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("module_id", "bucket", name=op.f("pk_module_sample_1m")),
    )
    for table in ("module_sample_1m", "rack_sample_1m"):
        op.execute(
            f"SELECT create_hypertable('{table}', by_range('bucket', INTERVAL '{ROLLUP_CHUNK}'), "
            "create_default_indexes => false)"
        )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("module_sample_1m")
    op.drop_table("rack_sample_1m")
    op.drop_table("rollup_dirty")
