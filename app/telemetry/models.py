"""Telemetry hypertables (one row per asset per period) and the latest-value tables."""

from datetime import datetime
from typing import Any, Final

from sqlalchemy import REAL, BigInteger, Boolean, Double, ForeignKey, Integer, SmallInteger, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base


class ModuleSampleColumns:
    """Columns shared by a module sample and a module's latest state."""

    ts: Mapped[datetime]
    soc_pct: Mapped[float | None] = mapped_column(REAL)
    soh_pct: Mapped[float | None] = mapped_column(REAL)
    current_a: Mapped[float | None] = mapped_column(REAL)
    voltage_v: Mapped[float | None] = mapped_column(REAL)
    cell_v: Mapped[list[float]] = mapped_column(ARRAY(REAL))
    cell_v_min: Mapped[float] = mapped_column(REAL)
    cell_v_max: Mapped[float] = mapped_column(REAL)
    cell_v_avg: Mapped[float] = mapped_column(REAL)
    cell_v_min_idx: Mapped[int] = mapped_column(SmallInteger)
    cell_v_max_idx: Mapped[int] = mapped_column(SmallInteger)
    temp_c: Mapped[list[float]] = mapped_column(ARRAY(REAL))
    temp_c_max: Mapped[float | None] = mapped_column(REAL)
    # Bit i set = cell i is being bled by passive balancing.
    balancing: Mapped[int] = mapped_column(BigInteger, server_default="0")
    status_bits: Mapped[int] = mapped_column(Integer, server_default="0")
    fault_bits: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Data-quality flags: which signals arrived flagged invalid or stale.
    quality: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class ModuleSample(ModuleSampleColumns, Base):
    """One module's state in one period; the (module_id, ts) key makes replays idempotent."""

    __tablename__ = "module_sample"

    module_id: Mapped[int] = mapped_column(
        ForeignKey("module.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[datetime] = mapped_column(primary_key=True)


# Every batch rewrites each asset's row. Room left on each page lets PostgreSQL update in
# place (HOT: no new index entry, dead versions pruned on the page); about 4x cheaper.
LATEST_TABLE_ARGS: Final[tuple[dict[str, Any]]] = ({"postgresql_with": {"fillfactor": 50}},)


class ModuleLatest(ModuleSampleColumns, Base):
    """The last known state of each module, upserted per ingest batch for live screens."""

    __tablename__ = "module_latest"
    __table_args__ = LATEST_TABLE_ARGS

    module_id: Mapped[int] = mapped_column(
        ForeignKey("module.id", ondelete="CASCADE"), primary_key=True
    )


class RackSampleColumns:
    """Columns shared by a string sample and a string's latest state."""

    ts: Mapped[datetime]
    voltage_v: Mapped[float | None] = mapped_column(REAL)
    current_a: Mapped[float | None] = mapped_column(REAL)
    power_kw: Mapped[float | None] = mapped_column(REAL)
    soc_pct: Mapped[float | None] = mapped_column(REAL)
    soh_pct: Mapped[float | None] = mapped_column(REAL)
    contactor_closed: Mapped[bool | None] = mapped_column(Boolean)
    n_mod_connected: Mapped[int | None] = mapped_column(SmallInteger)
    n_mod_bypassed: Mapped[int | None] = mapped_column(SmallInteger)
    insulation_kohm: Mapped[float | None] = mapped_column(REAL)
    # The derate state: charge/discharge current limits the string currently enforces.
    charge_limit_a: Mapped[float | None] = mapped_column(REAL)
    discharge_limit_a: Mapped[float | None] = mapped_column(REAL)
    energy_charged_kwh: Mapped[float | None] = mapped_column(Double)
    energy_discharged_kwh: Mapped[float | None] = mapped_column(Double)
    cell_v_min: Mapped[float | None] = mapped_column(REAL)
    cell_v_max: Mapped[float | None] = mapped_column(REAL)
    status_bits: Mapped[int] = mapped_column(Integer, server_default="0")
    fault_bits: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # SunSpec StrDisRsn when the string is disabled: 1 fault, 2 maintenance, 3 external, 4 other.
    disable_reason: Mapped[int | None] = mapped_column(SmallInteger)
    quality: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class RackSample(RackSampleColumns, Base):
    """One string's state in one period."""

    __tablename__ = "rack_sample"

    rack_id: Mapped[int] = mapped_column(
        ForeignKey("rack.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[datetime] = mapped_column(primary_key=True)


class RackLatest(RackSampleColumns, Base):
    """The last known state of each string."""

    __tablename__ = "rack_latest"
    __table_args__ = LATEST_TABLE_ARGS

    rack_id: Mapped[int] = mapped_column(
        ForeignKey("rack.id", ondelete="CASCADE"), primary_key=True
    )


class ModuleRollup(Base):
    """One module over one minute: min/max/avg, cell spread statistics, sample count."""

    __tablename__ = "module_sample_1m"

    module_id: Mapped[int] = mapped_column(
        ForeignKey("module.id", ondelete="CASCADE"), primary_key=True
    )
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    soc_pct_avg: Mapped[float | None] = mapped_column(REAL)
    current_a_avg: Mapped[float | None] = mapped_column(REAL)
    current_a_abs_max: Mapped[float | None] = mapped_column(REAL)
    voltage_v_avg: Mapped[float | None] = mapped_column(REAL)
    cell_v_min: Mapped[float] = mapped_column(REAL)
    cell_v_max: Mapped[float] = mapped_column(REAL)
    cell_v_avg: Mapped[float] = mapped_column(REAL)
    spread_mv_avg: Mapped[float] = mapped_column(REAL)
    spread_mv_max: Mapped[float] = mapped_column(REAL)
    spread_mv_p95: Mapped[float] = mapped_column(REAL)
    temp_c_max: Mapped[float | None] = mapped_column(REAL)
    balancing_samples: Mapped[int] = mapped_column(Integer)


class RackRollup(Base):
    """One string over one minute."""

    __tablename__ = "rack_sample_1m"

    rack_id: Mapped[int] = mapped_column(
        ForeignKey("rack.id", ondelete="CASCADE"), primary_key=True
    )
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    voltage_v_avg: Mapped[float | None] = mapped_column(REAL)
    current_a_avg: Mapped[float | None] = mapped_column(REAL)
    current_a_min: Mapped[float | None] = mapped_column(REAL)
    current_a_max: Mapped[float | None] = mapped_column(REAL)
    power_kw_avg: Mapped[float | None] = mapped_column(REAL)
    soc_pct_avg: Mapped[float | None] = mapped_column(REAL)
    cell_v_min: Mapped[float | None] = mapped_column(REAL)
    cell_v_max: Mapped[float | None] = mapped_column(REAL)
    spread_mv_max: Mapped[float | None] = mapped_column(REAL)
    spread_mv_p95: Mapped[float | None] = mapped_column(REAL)
    closed_samples: Mapped[int] = mapped_column(Integer)
    charge_limit_a_min: Mapped[float | None] = mapped_column(REAL)
    discharge_limit_a_min: Mapped[float | None] = mapped_column(REAL)
    energy_charged_kwh_max: Mapped[float | None] = mapped_column(Double)
    energy_discharged_kwh_max: Mapped[float | None] = mapped_column(Double)
    # The energy balance, from the minute's samples that carry SoC and both counters: SoC and
    # counters at the last of them, counters at the first, and the counters' rises between
    # them (a fall is a reset or wrap and adds nothing).
    soc_pct_last: Mapped[float | None] = mapped_column(REAL)
    energy_charged_kwh_first: Mapped[float | None] = mapped_column(Double)
    energy_charged_kwh_last: Mapped[float | None] = mapped_column(Double)
    energy_charged_kwh_gain: Mapped[float | None] = mapped_column(Double)
    energy_discharged_kwh_first: Mapped[float | None] = mapped_column(Double)
    energy_discharged_kwh_last: Mapped[float | None] = mapped_column(Double)
    energy_discharged_kwh_gain: Mapped[float | None] = mapped_column(Double)


class RollupDirty(Base):
    """Minutes that received samples since they were last rolled up (the job's work queue)."""

    __tablename__ = "rollup_dirty"

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)


class RackSpreadDay(Base):
    """A day's distribution of one string's per-minute spread (p95 within each minute).

    Sparse histograms with SPREAD_BIN_MV-wide bins, for all minutes and for minutes under load,
    let long windows (30 days, a year) be answered from a few rows per string.
    """

    __tablename__ = "rack_spread_1d"

    rack_id: Mapped[int] = mapped_column(
        ForeignKey("rack.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[datetime] = mapped_column(primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer)
    minutes_load: Mapped[int] = mapped_column(Integer)
    load_a: Mapped[float] = mapped_column(REAL)
    max_mv: Mapped[float | None] = mapped_column(REAL)
    max_mv_load: Mapped[float | None] = mapped_column(REAL)
    bins: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    counts_load: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class SystemSampleColumns:
    """Columns shared by a system sample and the system's latest state (pack-level values)."""

    ts: Mapped[datetime]
    soc_pct: Mapped[float | None] = mapped_column(REAL)
    soh_pct: Mapped[float | None] = mapped_column(REAL)
    voltage_v: Mapped[float | None] = mapped_column(REAL)
    current_a: Mapped[float | None] = mapped_column(REAL)  # positive: discharge (SunSpec)
    power_kw: Mapped[float | None] = mapped_column(REAL)  # as reported, else voltage x current
    # The limits the BMS master allows the PCS right now, as magnitudes.
    charge_limit_a: Mapped[float | None] = mapped_column(REAL)
    discharge_limit_a: Mapped[float | None] = mapped_column(REAL)
    charge_limit_kw: Mapped[float | None] = mapped_column(REAL)
    discharge_limit_kw: Mapped[float | None] = mapped_column(REAL)
    quality: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class SystemSample(SystemSampleColumns, Base):
    """The whole system's state in one period: one system per site, keyed by site and time."""

    __tablename__ = "system_sample"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[datetime] = mapped_column(primary_key=True)


class SystemLatest(SystemSampleColumns, Base):
    """The last known state of each site's system."""

    __tablename__ = "system_latest"
    __table_args__ = LATEST_TABLE_ARGS

    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.id", ondelete="CASCADE"), primary_key=True
    )
