"""The isolation table: a string or module out of service, from fault onset to return."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.enums import Actor, DisableReason, sql_in
from app.core.models import Base, created_at_column


class Isolation(Base):
    """One isolation event; isolated_at is contactor-open feedback, not the command time."""

    __tablename__ = "isolation"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    rack_id: Mapped[int] = mapped_column(ForeignKey("rack.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    isolated_by: Mapped[str] = mapped_column(Text)
    fault_code: Mapped[str | None] = mapped_column(Text)
    command_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("command.id", ondelete="SET NULL")
    )
    onset_at: Mapped[datetime]
    isolated_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(sql_in(DisableReason, "reason"), name="reason_valid"),
        CheckConstraint(sql_in(Actor, "isolated_by"), name="isolated_by_valid"),
        CheckConstraint(
            "isolated_at IS NULL OR isolated_at >= onset_at", name="isolated_after_onset"
        ),
        CheckConstraint(
            "returned_at IS NULL OR returned_at >= onset_at", name="returned_after_onset"
        ),
        Index("ix_isolation_site_id_onset_at", "site_id", text("onset_at DESC")),
    )


class ContactorEvent(Base):
    """A string's contactors (or, with a module, its bypass) opening or closing, as the edge saw
    the feedback: the history isolations are derived from, whatever order it arrived in."""

    __tablename__ = "contactor_event"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    rack_id: Mapped[int] = mapped_column(ForeignKey("rack.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id", ondelete="CASCADE"))
    ts: Mapped[datetime]
    opened: Mapped[bool]  # opened (bypassed) or closed (returned)
    disable_reason: Mapped[int | None] = mapped_column(SmallInteger)  # StrDisRsn as it opened
    received_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        # The same feedback delivered twice is one event.
        Index(
            "uq_contactor_event_target_ts",
            "rack_id",
            text("coalesce(module_id, 0)"),
            "ts",
            "opened",
            unique=True,
        ),
    )
