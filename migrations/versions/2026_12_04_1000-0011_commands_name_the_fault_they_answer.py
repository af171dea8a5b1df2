"""Commands name the fault they answer, and an isolation's onset is that fault's.

An isolation's onset was the earliest alarm active on its string, whatever caused it: an
isolation made 0.4 s after the edge policy's command read 12.5 minutes, from an unrelated
under-voltage warning raised 12 minutes before. A command now carries the fault it answers:
the alarm an operator names (alarm_id, with its code and raise time) or the condition that
triggered an edge policy action (its trigger, also kept in result). Isolations a command
explains take their onset and fault code from it; without one their fault is unknown and
they count in no KPI.

The data step gives the edge policy's existing commands their trigger, and re-attributes the
isolations commands explain: a named fault's onset and code, none otherwise. The downgrade
drops the columns; onsets corrected by the upgrade stay corrected.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = """
UPDATE command SET fault_code = result -> 'trigger' ->> 'code',
       fault_onset_at = CAST(result -> 'trigger' ->> 'onset_at' AS timestamptz)
WHERE origin = 'edge_policy' AND result ? 'trigger'
"""
ISOLATIONS = """
UPDATE isolation i
SET fault_code = CASE WHEN i.reason = 'fault' THEN c.fault_code END,
    onset_at = CASE WHEN i.reason = 'fault' AND c.fault_onset_at IS NOT NULL
                    THEN least(c.fault_onset_at, i.isolated_at)
                    ELSE least(c.requested_at, i.isolated_at) END
FROM command c
WHERE c.id = i.command_id AND i.isolated_at IS NOT NULL
"""


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("command", sa.Column("alarm_id", sa.BigInteger(), nullable=True))
    op.add_column("command", sa.Column("fault_code", sa.Text(), nullable=True))
    op.add_column("command", sa.Column("fault_onset_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(
        op.f("fk_command_alarm_id_alarm"),
        "command",
        "alarm",
        ["alarm_id"],
        ["id"],
        ondelete="SET NULL",
    )
    # Alarms folded into others are deleted: the lookup that clears their commands' link.
    op.create_index(
        "ix_command_alarm_id",
        "command",
        ["alarm_id"],
        postgresql_where=sa.text("alarm_id IS NOT NULL"),
    )
    op.execute(TRIGGERS)
    op.execute(ISOLATIONS)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_command_alarm_id", table_name="command")
    op.drop_constraint(op.f("fk_command_alarm_id_alarm"), "command", type_="foreignkey")
    for name in ("fault_onset_at", "fault_code", "alarm_id"):
        op.drop_column("command", name)
