"""String minute rollups keep what a round-trip efficiency needs: the state of charge and energy
counters at the minute's end, the counters at its start, and what they gained within it.

Round-trip efficiency was max - min of each counter over the window: wrong across a counter
reset (a restarted BMS counts from zero again) and blind to the energy left in (or taken from)
storage between the window's ends. Efficiency is now taken over whole cycles, from a moment
to the last one the string's state of charge is back where it was, so it needs the state of
charge and the counters of the same sample, and the counters' gains with resets left out.

The rollup job recomputes the minutes marked here from the raw samples still kept; older
minutes keep empty columns and simply give no efficiency.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS: tuple[tuple[str, sa.types.TypeEngine[float]], ...] = (
    ("soc_pct_last", sa.REAL()),
    ("energy_charged_kwh_first", sa.Double()),
    ("energy_charged_kwh_last", sa.Double()),
    ("energy_charged_kwh_gain", sa.Double()),
    ("energy_discharged_kwh_first", sa.Double()),
    ("energy_discharged_kwh_last", sa.Double()),
    ("energy_discharged_kwh_gain", sa.Double()),
)


def upgrade() -> None:
    """Apply this revision."""
    for name, type_ in COLUMNS:
        op.add_column("rack_sample_1m", sa.Column(name, type_, nullable=True))
    # Recompute every minute whose raw samples are still there (the job does the work).
    op.execute(
        "INSERT INTO rollup_dirty (source, bucket) "
        "SELECT DISTINCT 'rack', time_bucket('1 minute', ts) FROM rack_sample "
        "ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    """Revert this revision."""
    for name, _ in reversed(COLUMNS):
        op.drop_column("rack_sample_1m", name)
