"""Latest-state tables keep half of each page free, so each batch's upsert updates in place.

Every ingest batch rewrites one row per module and string. With full pages each update writes
a new tuple elsewhere plus a new primary-key entry; with free room on the page PostgreSQL makes
a heap-only (HOT) update and prunes the old versions on the page itself. Rows already stored
keep their pages until the table is rewritten; new pages follow the setting.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 21:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("module_latest", "rack_latest")


def upgrade() -> None:
    """Apply this revision."""
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def downgrade() -> None:
    """Revert this revision."""
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
