"""Alarm notifications: contacts, rules with escalation tiers, alarm notices written by a
trigger, and the outbox.

The trigger on alarm writes a notice in the same transaction as every raise, clear and
acknowledgement, whichever code path made it, so no change is ever missed or announced for a
change that was rolled back.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 09:00:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTICE_FUNCTION = """
CREATE FUNCTION alarm_notice_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO alarm_notice (alarm_id, event) VALUES (NEW.id, 'raised');
        IF NEW.cleared_at IS NOT NULL THEN
            INSERT INTO alarm_notice (alarm_id, event) VALUES (NEW.id, 'cleared');
        END IF;
        RETURN NULL;
    END IF;
    IF OLD.cleared_at IS NOT NULL AND NEW.cleared_at IS NULL THEN
        INSERT INTO alarm_notice (alarm_id, event) VALUES (NEW.id, 'raised');
    ELSIF OLD.cleared_at IS NULL AND NEW.cleared_at IS NOT NULL THEN
        INSERT INTO alarm_notice (alarm_id, event) VALUES (NEW.id, 'cleared');
    END IF;
    IF OLD.acked_at IS NULL AND NEW.acked_at IS NOT NULL THEN
        INSERT INTO alarm_notice (alarm_id, event) VALUES (NEW.id, 'acked');
    END IF;
    RETURN NULL;
END $$
"""


def _created_at() -> "sa.Column[datetime]":
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _contact_and_rule() -> None:
    op.create_table(
        "notification_contact",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.Text()),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("webhook_secret", sa.Text()),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            ondelete="CASCADE",
            name="fk_notification_contact_user_id_app_user",
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_notification_contact"),
    )
    op.create_table(
        "notification_rule",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("site_ids", postgresql.ARRAY(sa.Integer())),
        sa.Column("min_priority", sa.SmallInteger(), nullable=False),
        sa.Column("codes", postgresql.ARRAY(sa.Text())),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("user_ids", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("escalate_after_s", sa.Integer(), server_default="0", nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "escalate_after_s >= 0", name=op.f("ck_notification_rule_escalate_after_s_positive")
        ),
        sa.CheckConstraint(
            "min_priority BETWEEN 1 AND 4", name=op.f("ck_notification_rule_priority_range")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_rule"),
    )


def _escalation() -> None:
    op.create_table(
        "notification_escalation",
        sa.Column("alarm_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarm.id"],
            ondelete="CASCADE",
            name="fk_notification_escalation_alarm_id_alarm",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["notification_rule.id"],
            ondelete="CASCADE",
            name="fk_notification_escalation_rule_id_notification_rule",
        ),
        sa.PrimaryKeyConstraint("alarm_id", "rule_id", name="pk_notification_escalation"),
    )


def _notice() -> None:
    op.create_table(
        "alarm_notice",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("alarm_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "event IN ('raised', 'cleared', 'acked')", name=op.f("ck_alarm_notice_event_valid")
        ),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarm.id"], ondelete="CASCADE", name="fk_alarm_notice_alarm_id_alarm"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_notice"),
    )
    op.create_index(
        "ix_alarm_notice_pending",
        "alarm_notice",
        ["id"],
        postgresql_where=sa.text("fanned_out_at IS NULL"),
    )
    op.create_index("ix_alarm_notice_alarm_id", "alarm_notice", ["alarm_id"])
    op.execute(NOTICE_FUNCTION)
    op.execute(
        "CREATE TRIGGER alarm_notice AFTER INSERT OR UPDATE ON alarm "
        "FOR EACH ROW EXECUTE FUNCTION alarm_notice_on_change()"
    )


def _outbox() -> None:
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "delivery_id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("notice_id", sa.BigInteger()),
        sa.Column("digest_key", sa.Text()),
        sa.Column("user_id", sa.Integer()),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text()),
        _created_at(),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "channel IN ('email', 'webhook')", name=op.f("ck_notification_outbox_channel_valid")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'failed')",
            name=op.f("ck_notification_outbox_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["alarm_notice.id"],
            ondelete="CASCADE",
            name="fk_notification_outbox_notice_id_alarm_notice",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            ondelete="CASCADE",
            name="fk_notification_outbox_user_id_app_user",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_outbox"),
        sa.UniqueConstraint("delivery_id", name="uq_notification_outbox_delivery_id"),
        sa.UniqueConstraint(
            "digest_key",
            "user_id",
            "channel",
            name="uq_notification_outbox_digest_key_user_id_channel",
        ),
        sa.UniqueConstraint(
            "notice_id",
            "user_id",
            "channel",
            name="uq_notification_outbox_notice_id_user_id_channel",
        ),
    )
    op.create_index(
        "ix_notification_outbox_due",
        "notification_outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )


def upgrade() -> None:
    """Create the notification tables and the trigger that writes alarm notices."""
    _contact_and_rule()
    _escalation()
    _notice()
    _outbox()


def downgrade() -> None:
    """Drop the trigger, its function and the tables."""
    op.drop_table("notification_outbox")
    op.execute("DROP TRIGGER alarm_notice ON alarm")
    op.execute("DROP FUNCTION alarm_notice_on_change()")
    op.drop_table("alarm_notice")
    op.drop_table("notification_escalation")
    op.drop_table("notification_rule")
    op.drop_table("notification_contact")
