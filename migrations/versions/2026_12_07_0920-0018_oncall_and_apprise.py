"""On-call rosters (weekly shifts in a time zone) as rule recipients, and Apprise channels.

A rule names users and rosters; a roster's shifts say who is on call at each local wall-clock
time of the week. A contact may hold an Apprise URL (chat and paging services).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 09:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _roster() -> None:
    op.create_table(
        "oncall_roster",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_roster"),
        sa.UniqueConstraint("name", name="uq_oncall_roster_name"),
    )
    op.create_table(
        "oncall_shift",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("roster_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_oncall_shift_weekday_range")),
        sa.CheckConstraint("starts <> ends", name=op.f("ck_oncall_shift_not_empty")),
        sa.ForeignKeyConstraint(
            ["roster_id"],
            ["oncall_roster.id"],
            ondelete="CASCADE",
            name="fk_oncall_shift_roster_id_oncall_roster",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            ondelete="CASCADE",
            name="fk_oncall_shift_user_id_app_user",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_shift"),
    )
    op.create_index("ix_oncall_shift_roster_id", "oncall_shift", ["roster_id"])


def upgrade() -> None:
    """Create rosters and shifts; rules name rosters; contacts and messages know Apprise."""
    _roster()
    op.add_column(
        "notification_rule",
        sa.Column(
            "roster_ids", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False
        ),
    )
    op.add_column("notification_contact", sa.Column("apprise_url", sa.Text()))
    op.drop_constraint(op.f("ck_notification_outbox_channel_valid"), "notification_outbox")
    op.create_check_constraint(
        op.f("ck_notification_outbox_channel_valid"),
        "notification_outbox",
        "channel IN ('email', 'webhook', 'apprise')",
    )


def downgrade() -> None:
    """Drop Apprise messages and addresses, rosters and their shifts."""
    op.execute("DELETE FROM notification_outbox WHERE channel = 'apprise'")
    op.execute("UPDATE notification_rule SET channels = array_remove(channels, 'apprise')")
    op.drop_constraint(op.f("ck_notification_outbox_channel_valid"), "notification_outbox")
    op.create_check_constraint(
        op.f("ck_notification_outbox_channel_valid"),
        "notification_outbox",
        "channel IN ('email', 'webhook')",
    )
    op.drop_column("notification_contact", "apprise_url")
    op.drop_column("notification_rule", "roster_ids")
    op.drop_table("oncall_shift")
    op.drop_table("oncall_roster")
