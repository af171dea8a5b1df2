"""Registry lists for the API: a site's strings and modules, a page at a time."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.schemas import ModuleOut, StringOut

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


async def list_strings(
    session: AsyncSession, site_id: int, *, after: int, limit: int
) -> list[StringOut]:
    """A site's strings by number, after a string number."""
    rows = await session.execute(STRINGS, {"site_id": site_id, "after": after, "limit": limit})
    names = StringOut.model_fields
    return [StringOut(**dict(zip(names, row, strict=True))) for row in rows]


async def list_modules(
    session: AsyncSession, site_id: int, *, string: int | None, after: int, limit: int
) -> list[ModuleOut]:
    """A site's (or one string's) modules by id, after a module id."""
    params = {"site_id": site_id, "string": string, "after": after, "limit": limit}
    names = ModuleOut.model_fields
    return [
        ModuleOut(**dict(zip(names, row, strict=True)))
        for row in await session.execute(MODULES, params)
    ]
