"""Notification tables: contacts, rules, on-call rosters, alarm notices (the trigger's queue)
and the outbox."""

from datetime import datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, created_at_column


class NotificationContact(Base):
    """How one user wants to be reached: an e-mail address, a webhook and its signing key."""

    __tablename__ = "notification_contact"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str | None] = mapped_column(Text)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    apprise_url: Mapped[str | None] = mapped_column(Text)  # holds secrets: never shown in full
    updated_at: Mapped[datetime] = created_at_column()


class NotificationRule(Base):
    """Which alarms (sites, priority, codes, events) go to whom, by which channels."""

    __tablename__ = "notification_rule"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    site_ids: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))  # NULL: every site
    min_priority: Mapped[int] = mapped_column(SmallInteger)  # 1 critical .. 4 low, inclusive
    codes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))  # NULL: every code
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    user_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    # Whoever is on call in these rosters when the rule is told, besides user_ids.
    roster_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    channels: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # 0: told as events happen; N: an escalation tier, told when an alarm stays active and
    # unacknowledged (not shelved, not cleared) for N seconds.
    escalate_after_s: Mapped[int] = mapped_column(server_default="0")
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("min_priority BETWEEN 1 AND 4", name="priority_range"),
        CheckConstraint("escalate_after_s >= 0", name="escalate_after_s_positive"),
    )


class OncallRoster(Base):
    """A weekly on-call schedule in one IANA time zone."""

    __tablename__ = "oncall_roster"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    time_zone: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class OncallShift(Base):
    """One person on call each week from a local start to a local end (next day if earlier)."""

    __tablename__ = "oncall_shift"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    roster_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_roster.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 Monday .. 6 Sunday
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("starts <> ends", name="not_empty"),
    )


class Escalation(Base):
    """An escalation tier that has been told about an alarm (so it is told once)."""

    __tablename__ = "notification_escalation"

    alarm_id: Mapped[int] = mapped_column(
        ForeignKey("alarm.id", ondelete="CASCADE"), primary_key=True
    )
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("notification_rule.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = created_at_column()


class AlarmNotice(Base):
    """An alarm raised, cleared or acknowledged: written by a trigger on alarm, in the same
    transaction as the change, and fanned out to the outbox by a worker."""

    __tablename__ = "alarm_notice"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarm.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = created_at_column()
    fanned_out_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("event IN ('raised', 'cleared', 'acked')", name="event_valid"),
        Index("ix_alarm_notice_pending", "id", postgresql_where=text("fanned_out_at IS NULL")),
        Index("ix_alarm_notice_alarm_id", "alarm_id"),
    )


class OutboxMessage(Base):
    """One message to one recipient by one channel; sent at least once, recognisable by its
    delivery id when a retry repeats it."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[UUID] = mapped_column(server_default=text("gen_random_uuid()"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("alarm_notice.id", ondelete="CASCADE"))
    # A flood digest's site and interval ("site:window start"): one digest per recipient each.
    digest_key: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime] = created_at_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("channel IN ('email', 'webhook', 'apprise')", name="channel_valid"),
        CheckConstraint("state IN ('pending', 'sent', 'failed')", name="state_valid"),
        UniqueConstraint("delivery_id"),
        # A notice is fanned out once: the same recipient and channel never get it twice.
        UniqueConstraint("notice_id", "user_id", "channel"),
        UniqueConstraint("digest_key", "user_id", "channel"),
        Index(
            "ix_notification_outbox_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )
