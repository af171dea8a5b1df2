"""A site's registry a page at a time: its strings by number, its modules by id."""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

STRINGS = text("""
SELECT r.index, r.name, (SELECT count(*) FROM module m WHERE m.rack_id = r.id),
       r.max_charge_a, r.max_discharge_a, r.capacity_ah
FROM rack r WHERE r.site_id = :site_id AND r.index > :after ORDER BY r.index LIMIT :limit
""")

MODULES = text("""
SELECT m.id, r.index, m.position, m.serial, m.cell_count, m.temp_count, m.chemistry,
       m.capacity_ah, m.firmware
FROM module m JOIN rack r ON r.id = m.rack_id
WHERE r.site_id = :site_id AND (CAST(:string AS int) IS NULL OR r.index = :string)
  AND m.id > :after
ORDER BY m.id LIMIT :limit
""")


@dataclass(frozen=True, slots=True)
class StringListing:
    """A string (rack) of the registry: number, name, size and ratings."""

    string: int
    name: str
    modules: int
    max_charge_a: float
    max_discharge_a: float
    capacity_ah: float


@dataclass(frozen=True, slots=True)
class ModuleListing:
    """A module of the registry: its place, make-up and identity."""

    module_id: int
    string: int
    position: int
    serial: str | None
    cell_count: int
    temp_count: int
    chemistry: str
    capacity_ah: float
    firmware: str | None


async def list_strings(
    session: AsyncSession, site_id: int, *, after: int, limit: int
) -> list[StringListing]:
    """A site's strings by number, after a string number."""
    rows = await session.execute(STRINGS, {"site_id": site_id, "after": after, "limit": limit})
    return [StringListing(*row) for row in rows]


async def list_modules(
    session: AsyncSession, site_id: int, *, string: int | None, after: int, limit: int
) -> list[ModuleListing]:
    """A site's (or one string's) modules by id, after a module id."""
    params = {"site_id": site_id, "string": string, "after": after, "limit": limit}
    return [ModuleListing(*row) for row in await session.execute(MODULES, params)]
