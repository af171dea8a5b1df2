"""A site's latest state: every module, every string and the system, as typed rows.

Module rows are a plain dataclass; string and system rows are generated from the field table
(app/telemetry/fields.py), so a value added there shows up here without an edit.
"""

from dataclasses import dataclass, make_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.telemetry.fields import STRING_MEASURES, SYSTEM_MEASURES


@dataclass(frozen=True, slots=True)
class ModuleState:
    """A module's last known state; every value None when it never reported."""

    string: int
    position: int
    module_id: int
    ts: datetime | None
    soc_pct: float | None
    soh_pct: float | None
    cell_v_min: float | None
    cell_v_max: float | None
    cell_v_avg: float | None
    spread_mv: float | None
    temp_c_max: float | None
    fault_bits: int | None
    balancing: int | None
    quality: int | None


class StringStateShape:
    """A string's last known state as the type checker sees it: its key and ratings typed,
    the field table's values read by name."""

    string: int
    rack_id: int
    name: str
    ts: datetime | None  # None: the string never reported
    max_charge_a: float
    max_discharge_a: float

    def __getattr__(self, name: str) -> Any: ...


class SystemStateShape:
    """The system's last known state as the type checker sees it."""

    ts: datetime

    def __getattr__(self, name: str) -> Any: ...


STRING_LATEST_VALUES = tuple(m.name for m in STRING_MEASURES if m.latest)
SYSTEM_LATEST_VALUES = tuple(m.name for m in SYSTEM_MEASURES if m.latest)
STRING_KEY: tuple[tuple[str, Any], ...] = (
    ("string", int),
    ("rack_id", int),
    ("name", str),
    ("ts", datetime | None),
)
STRING_RATINGS: tuple[tuple[str, Any], ...] = (("max_charge_a", float), ("max_discharge_a", float))


def _state_row(name: str, fields: list[tuple[str, Any]]) -> Any:
    """A frozen row class with these fields, in this order."""
    row = make_dataclass(name, fields, frozen=True, slots=True)
    row.__module__ = __name__
    return row


if TYPE_CHECKING:
    StringState = StringStateShape
    SystemState = SystemStateShape
else:
    StringState = _state_row(
        "StringState",
        [*STRING_KEY, *((n, Any) for n in STRING_LATEST_VALUES), *STRING_RATINGS],
    )
    SystemState = _state_row(
        "SystemState", [("ts", datetime), *((n, Any) for n in SYSTEM_LATEST_VALUES)]
    )

SITE_MODULES = text("""
SELECT r.index, m.position, m.id, l.ts, l.soc_pct, l.soh_pct, l.cell_v_min, l.cell_v_max,
       l.cell_v_avg, (l.cell_v_max - l.cell_v_min) * 1000, l.temp_c_max, l.fault_bits,
       l.balancing, l.quality
FROM module m JOIN rack r ON r.id = m.rack_id
LEFT JOIN module_latest l ON l.module_id = m.id
WHERE r.site_id = :site_id ORDER BY r.index, m.position
""")
SITE_RACKS = text(f"""
SELECT r.index, r.id, r.name, l.ts, {", ".join(f"l.{name}" for name in STRING_LATEST_VALUES)},
       r.max_charge_a, r.max_discharge_a
FROM rack r LEFT JOIN rack_latest l ON l.rack_id = r.id
WHERE r.site_id = :site_id ORDER BY r.index
""")  # noqa: S608 - column names from the field table
SITE_SYSTEM = text(f"""
SELECT ts, {", ".join(SYSTEM_LATEST_VALUES)} FROM system_latest WHERE site_id = :site_id
""")  # noqa: S608 - column names from the field table


@dataclass(frozen=True)
class SiteLatest:
    """The last known state of every string and module of a site, and of its system."""

    racks: list[StringState]
    modules: list[ModuleState]
    system: SystemState | None = None  # None: the site has never sent pack-level values


async def site_latest(session: AsyncSession, *, site_id: int) -> SiteLatest:
    """Latest state of a site, in three queries (strings, modules, then the system)."""
    racks = await strings_latest(session, site_id=site_id)
    modules = await session.execute(SITE_MODULES, {"site_id": site_id})
    return SiteLatest(
        racks=racks,
        modules=[ModuleState(*row) for row in modules],
        system=await system_latest(session, site_id=site_id),
    )


async def system_latest(session: AsyncSession, *, site_id: int) -> SystemState | None:
    """The site's system's last reported state, or None if it never reported one."""
    row = (await session.execute(SITE_SYSTEM, {"site_id": site_id})).first()
    return None if row is None else SystemState(*row)


async def strings_latest(session: AsyncSession, *, site_id: int) -> list[StringState]:
    """Latest state of a site's strings only."""
    racks = await session.execute(SITE_RACKS, {"site_id": site_id})
    return [StringState(*row) for row in racks]
