"""SQL for the asset registry."""

from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import SiteIds
from app.sites.models import EdgeDevice, Module, Rack, Site
from app.sites.schemas import SiteConfig, SiteSummary
from app.telemetry.models import RackLatest


async def upsert_site(session: AsyncSession, config: SiteConfig) -> int:
    """Create or update a site's nameplate by code; returns its id."""
    values = config.model_dump(
        include={
            "code",
            "name",
            "timezone",
            "chemistry",
            "nameplate_power_kw",
            "nameplate_energy_kwh",
        }
    )
    stmt = insert(Site).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[Site.code], set_=values)
    result = await session.execute(stmt.returning(Site.id))
    return result.scalar_one()


async def ensure_racks(session: AsyncSession, site_id: int, config: SiteConfig) -> list[int]:
    """Create the site's strings that do not exist yet; returns all their ids in order."""
    rows = [
        {
            "site_id": site_id,
            "index": i,
            "name": f"String {i}",
            "max_charge_a": config.rack_max_charge_a,
            "max_discharge_a": config.rack_max_discharge_a,
            "capacity_ah": config.module_capacity_ah,
        }
        for i in range(1, config.racks + 1)
    ]
    await session.execute(insert(Rack).values(rows).on_conflict_do_nothing())
    result = await session.execute(
        select(Rack.id).where(Rack.site_id == site_id).order_by(Rack.index)
    )
    return list(result.scalars())


async def ensure_modules(session: AsyncSession, rack_ids: list[int], config: SiteConfig) -> int:
    """Create the modules that do not exist yet in each string; returns how many were new."""
    rows = [
        {
            "rack_id": rack_id,
            "position": p,
            "cell_count": config.cells_per_module,
            "temp_count": config.temps_per_module,
            "chemistry": config.chemistry,
            "capacity_ah": config.module_capacity_ah,
        }
        for rack_id in rack_ids
        for p in range(1, config.modules_per_rack + 1)
    ]
    result = await session.execute(
        insert(Module).values(rows).on_conflict_do_nothing().returning(Module.id)
    )
    return len(result.all())


async def list_site_summaries(session: AsyncSession) -> list[SiteSummary]:
    """Every site with its size and the age of its newest string data."""
    racks = (
        select(
            Rack.site_id,
            func.count(func.distinct(Rack.id)).label("rack_count"),
            func.count(Module.id).label("module_count"),
            func.max(RackLatest.ts).label("last_data_at"),
        )
        .outerjoin(Module, Module.rack_id == Rack.id)
        .outerjoin(RackLatest, RackLatest.rack_id == Rack.id)
        .group_by(Rack.site_id)
        .subquery()
    )
    stmt = (
        select(
            Site.id,
            Site.code,
            Site.name,
            Site.timezone,
            Site.nameplate_power_kw,
            Site.nameplate_energy_kwh,
            func.coalesce(racks.c.rack_count, 0).label("rack_count"),
            func.coalesce(racks.c.module_count, 0).label("module_count"),
            racks.c.last_data_at,
        )
        .outerjoin(racks, racks.c.site_id == Site.id)
        .order_by(Site.name)
    )
    result = await session.execute(stmt)
    return [SiteSummary.model_validate(row, from_attributes=True) for row in result]


async def site_id_by_code(session: AsyncSession, code: str) -> int | None:
    """A site's id, or None when no site has that code."""
    result = await session.execute(select(Site.id).where(Site.code == code))
    return result.scalar_one_or_none()


async def site_ids_by_codes(
    session: AsyncSession, codes: list[str], *, scope: SiteIds = None
) -> list[int]:
    """The ids of these sites, in order; ValueError naming any code unknown (or outside `scope`)."""
    stmt = select(Site.code, Site.id).where(Site.code.in_(codes))
    if scope is not None:
        stmt = stmt.where(Site.id.in_(scope))
    found: dict[str, int] = dict((await session.execute(stmt)).all())
    missing = sorted(set(codes) - set(found))
    if missing:
        raise ValueError(f"no site with code {', '.join(missing)}")
    return [found[code] for code in codes]


async def insert_edge_device(
    session: AsyncSession, *, site_id: int, name: str, token_hash: str
) -> int:
    """Register an edge device; returns its id."""
    device = EdgeDevice(site_id=site_id, name=name, token_hash=token_hash)
    session.add(device)
    await session.flush()
    return device.id


async def edge_device_exists(session: AsyncSession, *, site_id: int, name: str) -> bool:
    """Whether the site already has a device with this name."""
    stmt = select(EdgeDevice.id).where(EdgeDevice.site_id == site_id, EdgeDevice.name == name)
    return (await session.execute(stmt)).first() is not None


async def set_edge_token(
    session: AsyncSession, *, site_id: int, name: str, token_hash: str
) -> None:
    """Replace a device's token (and un-revoke it)."""
    await session.execute(
        update(EdgeDevice)
        .where(EdgeDevice.site_id == site_id, EdgeDevice.name == name)
        .values(token_hash=token_hash, revoked_at=None)
    )


async def rack_id_by_index(session: AsyncSession, site_id: int, index: int) -> int | None:
    """The id of a site's string by its number, or None."""
    stmt = select(Rack.id).where(Rack.site_id == site_id, Rack.index == index)
    return (await session.execute(stmt)).scalar()


# A NULL :scope is an admin of every site; else only devices of those sites.
IN_SCOPE = "(CAST(:scope AS int[]) IS NULL OR d.site_id = ANY(CAST(:scope AS int[])))"
DEVICES = text(f"""
SELECT d.id, s.code, d.name, d.software_version, d.last_seen_at, d.created_at, d.revoked_at
FROM edge_device d JOIN site s ON s.id = d.site_id
WHERE {IN_SCOPE}
ORDER BY d.revoked_at IS NOT NULL, s.code, d.name
""")  # noqa: S608 - IN_SCOPE is a constant


async def list_devices(session: AsyncSession, *, scope: SiteIds = None) -> list[tuple[Any, ...]]:
    """Devices of the sites in `scope`: id, site code, name, version, seen, created, revoked."""
    rows = await session.execute(DEVICES, {"scope": _ids(scope)})
    return [tuple(row) for row in rows]


def _ids(sites: SiteIds) -> list[int] | None:
    return None if sites is None else list(sites)


REVOKE_DEVICE = text(f"""
UPDATE edge_device d SET revoked_at = now() FROM site s
WHERE d.id = :id AND s.id = d.site_id AND d.revoked_at IS NULL AND {IN_SCOPE}
RETURNING s.code || '/' || d.name
""")  # noqa: S608 - IN_SCOPE is a constant


async def revoke_device(
    session: AsyncSession, device_id: int, *, scope: SiteIds = None
) -> str | None:
    """Revoke a device's token at once; its 'site/name', or None if unknown, revoked or outside."""
    found = await session.execute(REVOKE_DEVICE, {"id": device_id, "scope": _ids(scope)})
    name = found.scalar()
    return None if name is None else str(name)
