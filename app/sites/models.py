"""Registry tables: site, edge device, rack (string) and module."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Identity, SmallInteger, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, created_at_column


class Site(Base):
    """A storage site: racks in parallel on one DC bus behind one PCS."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text, server_default="UTC")
    chemistry: Mapped[str] = mapped_column(Text, server_default="LFP")
    nameplate_power_kw: Mapped[float]
    nameplate_energy_kwh: Mapped[float]
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("code ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="code_slug"),
        CheckConstraint("nameplate_power_kw > 0", name="power_positive"),
        CheckConstraint("nameplate_energy_kwh > 0", name="energy_positive"),
    )


class EdgeDevice(Base):
    """An edge collector bound to one site, authenticated by a hashed token."""

    __tablename__ = "edge_device"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    software_version: Mapped[str | None] = mapped_column(Text)
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None]
    # The counters of its newest batch (by the edge's batch time): spool depth, dead letters...
    counters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    counters_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("site_id", "name"),)


class Rack(Base):
    """A string of modules in series with its own contactors (SunSpec 803 string)."""

    __tablename__ = "rack"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(Text)
    max_charge_a: Mapped[float]
    max_discharge_a: Mapped[float]
    capacity_ah: Mapped[float]
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("site_id", "index"),
        CheckConstraint("index >= 1", name="index_positive"),
    )


class Module(Base):
    """A battery module with its own BMU, one position in a string."""

    __tablename__ = "module"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    rack_id: Mapped[int] = mapped_column(ForeignKey("rack.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    serial: Mapped[str | None] = mapped_column(Text, unique=True)
    cell_count: Mapped[int] = mapped_column(SmallInteger)
    temp_count: Mapped[int] = mapped_column(SmallInteger)
    chemistry: Mapped[str] = mapped_column(Text, server_default="LFP")
    capacity_ah: Mapped[float]
    firmware: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("rack_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("cell_count BETWEEN 1 AND 64", name="cell_count_range"),
        CheckConstraint("temp_count BETWEEN 0 AND 16", name="temp_count_range"),
    )
