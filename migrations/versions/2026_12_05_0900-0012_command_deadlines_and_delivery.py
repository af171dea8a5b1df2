"""Every unfinished command has a deadline on the backend's clock, and one device it went to.

A command sent to an edge that never reported stayed `sent` for ever, blocking its target;
an edge-supplied ack time in the future kept a command `acked` for ever; two devices of one
site both received the same command. Now `deadline_at` holds when the current state runs out
(queued: the pickup expiry; sent: the expiry plus the report grace; acked: the verification
timeout from the backend's receipt of the ack), `delivered_to` the one device that took it,
and two final states join: `unknown` (sent, never reported in time) and `cleared` (an
operator ended it with a reason).

The data step gives the unfinished commands a deadline from their own times. The downgrade
turns the new final states into `failed`, which is what they were closest to before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "'queued', 'sent', 'acked', 'verified', 'failed', 'expired', 'cancelled'"
NEW_STATES = f"{OLD_STATES}, 'unknown', 'cleared'"
PENDING = "state IN ('queued', 'sent', 'acked')"
DEADLINES = """
UPDATE command SET deadline_at = CASE state
    WHEN 'queued' THEN coalesce(expires_at, requested_at + interval '60 seconds')
    WHEN 'sent' THEN coalesce(expires_at, sent_at, requested_at) + interval '30 seconds'
    ELSE now() + interval '15 seconds' END
WHERE state IN ('queued', 'sent', 'acked')
"""


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("command", sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("command", sa.Column("delivered_to", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_command_delivered_to_edge_device"),
        "command",
        "edge_device",
        ["delivered_to"],
        ["id"],
        ondelete="SET NULL",
    )
    op.drop_constraint(op.f("ck_command_state_valid"), "command", type_="check")
    op.create_check_constraint(
        op.f("ck_command_state_valid"), "command", f"state IN ({NEW_STATES})"
    )
    op.execute(DEADLINES)
    # The deadline sweep reads only unfinished commands, oldest deadline first.
    op.create_index(
        "ix_command_deadline_at", "command", ["deadline_at"], postgresql_where=sa.text(PENDING)
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_command_deadline_at", table_name="command")
    op.execute("UPDATE command SET state = 'failed' WHERE state IN ('unknown', 'cleared')")
    op.drop_constraint(op.f("ck_command_state_valid"), "command", type_="check")
    op.create_check_constraint(
        op.f("ck_command_state_valid"), "command", f"state IN ({OLD_STATES})"
    )
    op.drop_constraint(op.f("fk_command_delivered_to_edge_device"), "command", type_="foreignkey")
    op.drop_column("command", "delivered_to")
    op.drop_column("command", "deadline_at")
