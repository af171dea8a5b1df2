"""Battery health tables: daily cell scores, the daily watch list, and the job's progress."""

from datetime import datetime

from sqlalchemy import REAL, ForeignKey, Integer, SmallInteger, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, created_at_column


class CellScoreDay(Base):
    """One module's day: each cell's mean robust deviation under load and at rest, its
    apparent self-discharge from balancing duty, and its mean offset from the module's median.

    Arrays hold one value per cell (index 0 is cell 1); a regime with no usable sample that day
    (none under load, or all balancing or isolated) is NULL.
    """

    __tablename__ = "cell_score_1d"

    module_id: Mapped[int] = mapped_column(
        ForeignKey("module.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[datetime] = mapped_column(primary_key=True)
    load_samples: Mapped[int] = mapped_column(Integer)
    rest_samples: Mapped[int] = mapped_column(Integer)
    load_score: Mapped[list[float] | None] = mapped_column(ARRAY(REAL))
    rest_score: Mapped[list[float] | None] = mapped_column(ARRAY(REAL))
    # apparent self-discharge above the module's typical cell, from balancing duty (mA)
    leak_ma: Mapped[list[float]] = mapped_column(ARRAY(REAL))
    # the evidence chart: each cell's mean voltage minus its module's median (mV), at rest and
    # under load while discharging (charge and discharge would cancel a resistive cell's sag)
    rest_offset_mv: Mapped[list[float] | None] = mapped_column(ARRAY(REAL))
    discharge_offset_mv: Mapped[list[float] | None] = mapped_column(ARRAY(REAL))


class CellWatchDay(Base):
    """A cell on a site's watch list as computed at the end of `day` (the top entries only)."""

    __tablename__ = "cell_watch_1d"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[datetime] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(
        ForeignKey("module.id", ondelete="CASCADE"), primary_key=True
    )
    cell: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    rank: Mapped[int] = mapped_column(SmallInteger)
    score: Mapped[float] = mapped_column(REAL)
    regime: Mapped[str] = mapped_column(Text)
    slope_per_day: Mapped[float] = mapped_column(REAL)
    cusum: Mapped[float] = mapped_column(REAL)
    level: Mapped[float] = mapped_column(REAL)
    days: Mapped[int] = mapped_column(SmallInteger)


class HealthDayDone(Base):
    """A site's day the health job has scored (its progress, so each day is done once)."""

    __tablename__ = "health_day_done"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[datetime] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = created_at_column()
