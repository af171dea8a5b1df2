"""Each edge device keeps the counters of its newest batch, for the site page.

The edge reports its spool in every batch's counters (waiting, dropped when full, dead letters
kept and dropped, corrupt spool files moved aside). The newest batch's counters are kept on the
device, so the site page reads one row per device instead of searching the batch log.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "edge_device",
        sa.Column(
            "counters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.add_column(
        "edge_device", sa.Column("counters_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("edge_device", "counters_at")
    op.drop_column("edge_device", "counters")
