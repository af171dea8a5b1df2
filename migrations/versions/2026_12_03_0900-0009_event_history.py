"""Event history: alarms and isolations are derived from the edge's events by their own times.

Batches arrive out of order (the edge sends live data before its backlog), so applying each
event to the current state made the outcome depend on arrival order: a clear stored before its
raise found nothing to clear, and the raise then opened an alarm that never closed.
alarm_event and contactor_event keep every raise/clear and contactor opening/closing once
(a delivery twice is one row); alarm and isolation rows are derived from them. They are filled
here from the rows already derived, so that history and rows agree from the start.

The open-alarm key loses the cell: the cell is what tripped the module's fault bit, and the
bit's clear names no cell. Open rows that differed only by cell are folded into the oldest.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.schema import SchemaItem

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Alarms the backend raises itself (no edge event behind them): not part of the history.
BACKEND_CODES = "('edge_spool_overflow', 'command_failed', 'edge_clock_skew')"


Column = str | sa.TextClause | sa.ColumnElement[object]


def _source(*, cell: bool = False) -> list[Column]:
    columns: list[Column] = [
        "site_id",
        sa.literal_column("coalesce(rack_id, 0)"),
        sa.literal_column("coalesce(module_id, 0)"),
    ]
    if cell:
        columns.append(sa.literal_column("coalesce(cell_index, -1)"))
    return [*columns, "code"]


def _fks(table: str, *, rack_nullable: bool = True) -> list[SchemaItem]:
    return [
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("rack_id", sa.Integer(), nullable=rack_nullable),
        sa.Column("module_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_module_id_module"),
        ),
        sa.ForeignKeyConstraint(
            ["rack_id"], ["rack.id"], ondelete="CASCADE", name=op.f(f"fk_{table}_rack_id_rack")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], ondelete="CASCADE", name=op.f(f"fk_{table}_site_id_site")
        ),
    ]


def _create_tables() -> None:
    op.create_table(
        "alarm_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        *_fks("alarm_event"),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised", sa.Boolean(), nullable=False),
        sa.Column("cell_index", sa.SmallInteger(), nullable=True),
        sa.Column("value", sa.REAL(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_event")),
    )
    op.create_index(
        "uq_alarm_event_source_ts", "alarm_event", [*_source(), "ts", "raised"], unique=True
    )
    op.create_table(
        "contactor_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        *_fks("contactor_event", rack_nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("disable_reason", sa.SmallInteger(), nullable=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contactor_event")),
    )
    target: list[Column] = ["rack_id", sa.literal_column("coalesce(module_id, 0)"), "ts", "opened"]
    op.create_index("uq_contactor_event_target_ts", "contactor_event", target, unique=True)


# Open rows that differed only by cell become one: the oldest, with every occurrence.
FOLD_OPEN_ROWS_BY_CELL = """
WITH ranked AS (
  SELECT id, last_raised_at, occurrences, first_value(id) OVER (
    PARTITION BY site_id, coalesce(rack_id, 0), coalesce(module_id, 0), code
    ORDER BY raised_at, id) AS keep
  FROM alarm WHERE state <> 'normal'),
extra AS (
  SELECT keep, sum(occurrences) AS n, max(last_raised_at) AS last FROM ranked
  WHERE id <> keep GROUP BY keep),
bumped AS (
  UPDATE alarm a SET occurrences = a.occurrences + e.n,
         last_raised_at = greatest(a.last_raised_at, e.last)
  FROM extra e WHERE a.id = e.keep)
DELETE FROM alarm WHERE id IN (SELECT id FROM ranked WHERE id <> keep)
"""

BACKFILL_ALARM_EVENTS = f"""
INSERT INTO alarm_event (site_id, rack_id, module_id, code, ts, raised, cell_index, value,
                         message)
SELECT site_id, rack_id, module_id, code, raised_at, true, cell_index, value, message
FROM alarm WHERE code NOT IN {BACKEND_CODES}
UNION ALL
SELECT site_id, rack_id, module_id, code, last_raised_at, true, NULL, NULL, NULL
FROM alarm WHERE code NOT IN {BACKEND_CODES} AND last_raised_at > raised_at
UNION ALL
SELECT site_id, rack_id, module_id, code, cleared_at, false, NULL, NULL, NULL
FROM alarm WHERE code NOT IN {BACKEND_CODES} AND cleared_at IS NOT NULL
ON CONFLICT DO NOTHING
"""  # noqa: S608 - constant SQL

BACKFILL_CONTACTOR_EVENTS = """
INSERT INTO contactor_event (site_id, rack_id, module_id, ts, opened)
SELECT site_id, rack_id, module_id, isolated_at, true FROM isolation WHERE isolated_at IS NOT NULL
UNION ALL
SELECT site_id, rack_id, module_id, returned_at, false FROM isolation
WHERE isolated_at IS NOT NULL AND returned_at IS NOT NULL
ON CONFLICT DO NOTHING
"""


def upgrade() -> None:
    """Apply this revision."""
    _create_tables()
    op.drop_index(
        "uq_alarm_open_source", table_name="alarm", postgresql_where=sa.text("state <> 'normal'")
    )
    op.execute(FOLD_OPEN_ROWS_BY_CELL)
    op.create_index(
        "uq_alarm_open_source",
        "alarm",
        _source(),
        unique=True,
        postgresql_where=sa.text("state <> 'normal'"),
    )
    op.create_index("ix_alarm_source_raised_at", "alarm", [*_source(), "raised_at"])
    op.execute(BACKFILL_ALARM_EVENTS)
    op.execute(BACKFILL_CONTACTOR_EVENTS)


def downgrade() -> None:
    """Revert this revision (open rows folded by cell stay folded)."""
    op.drop_index("ix_alarm_source_raised_at", table_name="alarm")
    op.drop_index(
        "uq_alarm_open_source", table_name="alarm", postgresql_where=sa.text("state <> 'normal'")
    )
    op.create_index(
        "uq_alarm_open_source",
        "alarm",
        _source(cell=True),
        unique=True,
        postgresql_where=sa.text("state <> 'normal'"),
    )
    op.drop_index("uq_contactor_event_target_ts", table_name="contactor_event")
    op.drop_table("contactor_event")
    op.drop_index("uq_alarm_event_source_ts", table_name="alarm_event")
    op.drop_table("alarm_event")
