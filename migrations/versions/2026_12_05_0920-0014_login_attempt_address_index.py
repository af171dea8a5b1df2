"""Sign-in throttling also counts by address: index the attempts by address and time.

The throttle looks up the last 15 minutes of attempts by account or by address; only the
account had an index, so every sign-in read the whole table for the address.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 09:20:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index login attempts by address and time."""
    op.create_index("ix_login_attempt_remote_addr_at", "login_attempt", ["remote_addr", "at"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_login_attempt_remote_addr_at", table_name="login_attempt")
