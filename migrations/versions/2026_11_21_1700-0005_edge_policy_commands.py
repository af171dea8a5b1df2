"""Commands issued by the edge's local policy: the trip kind and the edge's own reference.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 17:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "'derate', 'isolate_string', 'return_string', 'isolate_module', 'return_module', "
    "'reset_alarms', 'set_balancing'"
)


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("command", sa.Column("edge_ref", sa.Text(), nullable=True))
    # A policy action reported twice (a retry after a lost answer) is recorded once.
    op.create_index(
        "uq_command_site_id_edge_ref",
        "command",
        ["site_id", "edge_ref"],
        unique=True,
        postgresql_where=sa.text("edge_ref IS NOT NULL"),
    )
    op.drop_constraint(op.f("ck_command_kind_valid"), "command", type_="check")
    op.create_check_constraint(
        op.f("ck_command_kind_valid"), "command", f"kind IN ({KINDS}, 'trip')"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DELETE FROM command WHERE kind = 'trip'")
    op.drop_constraint(op.f("ck_command_kind_valid"), "command", type_="check")
    op.create_check_constraint(op.f("ck_command_kind_valid"), "command", f"kind IN ({KINDS})")
    op.drop_index("uq_command_site_id_edge_ref", table_name="command")
    op.drop_column("command", "edge_ref")
