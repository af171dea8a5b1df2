"""System (pack-level) samples: the BMS master's SoC, SoH, voltage, current, power and limits.

One system per site, distinct from its strings and modules: a hypertable of samples keyed by
(site, time) like the strings' and a latest-state row per site for the screens.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VALUES = (
    "soc_pct",
    "soh_pct",
    "voltage_v",
    "current_a",
    "power_kw",
    "charge_limit_a",
    "discharge_limit_a",
    "charge_limit_kw",
    "discharge_limit_kw",
)


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.REAL(), nullable=True) for name in VALUES),
        sa.Column("quality", sa.SmallInteger(), server_default="0", nullable=False),
    ]


def _site_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["site_id"], ["site.id"], name=op.f(f"fk_{table}_site_id_site"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create system_sample (a hypertable) and system_latest."""
    key = sa.PrimaryKeyConstraint("site_id", "ts", name=op.f("pk_system_sample"))
    op.create_table("system_sample", *_columns(), _site_key("system_sample"), key)
    # One row per site and second at most: a day's chunk is small (as the strings' are).
    op.execute(
        "SELECT create_hypertable('system_sample', by_range('ts', INTERVAL '1 day'), "
        "create_default_indexes => false)"
    )
    op.create_table(
        "system_latest",
        *_columns(),
        _site_key("system_latest"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_system_latest")),
        postgresql_with={"fillfactor": 50},
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("system_latest")
    op.drop_table("system_sample")
