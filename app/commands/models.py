"""The command table: degrade-not-trip commands and their timestamped lifecycle."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.enums import Actor, CommandKind, CommandState, DisableReason, sql_in
from app.core.models import Base


class Command(Base):
    """A command for one site's edge, with mandatory reason and optional expiry."""

    __tablename__ = "command"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    rack_id: Mapped[int | None] = mapped_column(ForeignKey("rack.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    reason: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, server_default="")
    origin: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    state: Mapped[str] = mapped_column(Text, server_default=CommandState.QUEUED.value)
    expires_at: Mapped[datetime | None]
    revert_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # When the current state runs out, on the backend's clock (NULL once final).
    deadline_at: Mapped[datetime | None]
    # The one edge device that took the command: only it gets it again, only it reports it.
    delivered_to: Mapped[int | None] = mapped_column(
        ForeignKey("edge_device.id", ondelete="SET NULL")
    )
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # The edge's own reference for a command its local policy issued (unique per site).
    edge_ref: Mapped[str | None] = mapped_column(Text)
    # The fault it answers: the alarm an operator named, or the condition that triggered an
    # edge policy action. An isolation it explains takes its onset and fault code from here.
    alarm_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("alarm.id", ondelete="SET NULL")
    )
    fault_code: Mapped[str | None] = mapped_column(Text)
    fault_onset_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(sql_in(CommandKind, "kind"), name="kind_valid"),
        CheckConstraint(sql_in(CommandState, "state"), name="state_valid"),
        CheckConstraint(sql_in(DisableReason, "reason"), name="reason_valid"),
        CheckConstraint(sql_in(Actor, "origin"), name="origin_valid"),
        Index("ix_command_site_id_requested_at", "site_id", text("requested_at DESC")),
        Index(
            "uq_command_site_id_edge_ref",
            "site_id",
            "edge_ref",
            unique=True,
            postgresql_where=text("edge_ref IS NOT NULL"),
        ),
        Index("ix_command_alarm_id", "alarm_id", postgresql_where=text("alarm_id IS NOT NULL")),
        Index(
            "ix_command_deadline_at",
            "deadline_at",
            postgresql_where=text("state IN ('queued', 'sent', 'acked')"),
        ),
        Index(
            "ix_command_pending",
            "site_id",
            "id",
            postgresql_where=text("state IN ('queued', 'sent', 'acked')"),
        ),
    )
