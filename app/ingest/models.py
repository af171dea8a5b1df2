"""Ingest bookkeeping: batches already stored (for idempotency) and refused rows."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base


class IngestBatch(Base):
    """One batch stored; (edge_device_id, edge_id, seq) makes a replayed batch a no-op."""

    __tablename__ = "ingest_batch"

    edge_device_id: Mapped[int] = mapped_column(
        ForeignKey("edge_device.id", ondelete="CASCADE"), primary_key=True
    )
    edge_id: Mapped[UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    created_at: Mapped[datetime]
    n_modules: Mapped[int] = mapped_column(Integer)
    n_strings: Mapped[int] = mapped_column(Integer)
    n_events: Mapped[int] = mapped_column(Integer)
    n_rejected: Mapped[int] = mapped_column(Integer)
    counters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")

    __table_args__ = (Index("ix_ingest_batch_received_at", "received_at"),)


class IngestRejection(Base):
    """A row (or field) refused at ingest, kept with its reason for admins and technicians."""

    __tablename__ = "ingest_rejection"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    edge_device_id: Mapped[int] = mapped_column(ForeignKey("edge_device.id", ondelete="CASCADE"))
    edge_id: Mapped[UUID]
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    section: Mapped[str] = mapped_column(Text)
    row_index: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_ingest_rejection_site_id_received_at", "site_id", text("received_at DESC")),
    )
