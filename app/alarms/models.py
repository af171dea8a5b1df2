"""The alarm table: one row per alarm occurrence, with its ISA-18.2 state."""

from datetime import datetime

from sqlalchemy import (
    REAL,
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

from app.core.enums import AlarmState, sql_in
from app.core.models import Base, created_at_column

# An alarm's source: site, string, module (no string or module: 0) and code.
SOURCE = ("site_id", text("coalesce(rack_id, 0)"), text("coalesce(module_id, 0)"), "code")


class Alarm(Base):
    """An alarm occurrence with the offending asset, value and threshold."""

    __tablename__ = "alarm"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    rack_id: Mapped[int | None] = mapped_column(ForeignKey("rack.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id", ondelete="CASCADE"))
    cell_index: Mapped[int | None] = mapped_column(SmallInteger)
    code: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(Text, server_default=AlarmState.UNACKED.value)
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(REAL)
    threshold: Mapped[float | None] = mapped_column(REAL)
    raised_at: Mapped[datetime]
    acked_at: Mapped[datetime | None]
    acked_by: Mapped[str | None] = mapped_column(Text)
    ack_note: Mapped[str | None] = mapped_column(Text)
    cleared_at: Mapped[datetime | None]
    shelved_until: Mapped[datetime | None]
    shelved_by: Mapped[str | None] = mapped_column(Text)
    shelve_reason: Mapped[str | None] = mapped_column(Text)
    occurrences: Mapped[int] = mapped_column(server_default="1")
    last_raised_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
        CheckConstraint(sql_in(AlarmState, "state"), name="state_valid"),
        CheckConstraint("occurrences >= 1", name="occurrences_positive"),
        Index("ix_alarm_site_id_raised_at", "site_id", text("raised_at DESC")),
        # At most one open occurrence per alarm source: a re-raise bumps its occurrence count.
        # The cell is what tripped it, not part of the source: the BMS's fault bit is the
        # module's, and its clear names no cell.
        Index(
            "uq_alarm_open_source",
            *SOURCE,
            unique=True,
            postgresql_where=text("state <> 'normal'"),
        ),
        Index("ix_alarm_source_raised_at", *SOURCE, "raised_at"),
    )


class AlarmEvent(Base):
    """One raise or clear of an alarm condition as the edge saw it: the history that alarm
    rows are derived from, so that they do not depend on the order batches arrive in."""

    __tablename__ = "alarm_event"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    rack_id: Mapped[int | None] = mapped_column(ForeignKey("rack.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime]
    raised: Mapped[bool]
    # What a raise said: the cell and value that crossed the limit, and the alarm's text.
    cell_index: Mapped[int | None] = mapped_column(SmallInteger)
    value: Mapped[float | None] = mapped_column(REAL)
    message: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        # The same raise (or clear) delivered twice is one event.
        Index("uq_alarm_event_source_ts", *SOURCE, "ts", "raised", unique=True),
    )
