"""Modules announced by the edge: registered before the batch's samples are checked.

An edge announces the modules it hears on its bus. A module the registry does not have yet is
added to its string (with the site's chemistry and the string's module capacity), so its
samples in the same batch are stored; a known module takes the serial and firmware announced.
The site configuration stays the authority on topology: a string it does not list, or a cell
or sensor count other than the registered one, is refused with the reason.
"""

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest.asset_map import ModuleAsset, SiteAssets
from app.ingest.schemas import AssetRow, Rejection
from app.sites.models import Module, Rack, Site

Position = tuple[int, int]  # (string, module) as the edge numbers them
Owner = tuple[int, int, int]  # (site id, string, module) a serial is registered to
Details = tuple[str | None, str | None]  # a module's registered (serial, firmware)
Problem = tuple[str, object, str]  # field, value, reason


@dataclass
class Announced:
    """What the announcements changed, and the ones refused."""

    registered: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def changed_registry(self) -> bool:
        """Whether the site's asset map must be read again."""
        return self.registered > 0


async def apply_announcements(
    session: AsyncSession, assets: SiteAssets, rows: list[tuple[int, AssetRow]]
) -> Announced:
    """Register new modules and record serials and firmware; refuse what contradicts the site."""
    out = Announced()
    known = assets.modules
    owners = await _serial_owners(session, [row.serial for _, row in rows if row.serial])
    details = await _details(session, _with_details(rows, known))
    seen: set[object] = set()
    new: list[AssetRow] = []
    for index, row in rows:
        here = (row.string, row.module)
        problem = _twice(row, seen) or _problem(row, assets, known.get(here), owners)
        if problem is not None:
            name, value, reason = problem
            out.rejections.append(
                Rejection(section="assets", row=index, field=name, value=value, reason=reason)
            )
        elif here not in known:
            new.append(row)
        elif await _update_details(session, known[here].module_id, details, row):
            out.updated += 1
        else:
            out.unchanged += 1
    out.registered = await _register(session, assets, new)
    out.unchanged += len(new) - out.registered  # registered meanwhile by a concurrent copy
    return out


def _twice(row: AssetRow, seen: set[object]) -> Problem | None:
    """A module or serial announced a second time in the same batch (the first one counts)."""
    here = (row.string, row.module)
    if here in seen:
        return "module", row.module, "this module is announced twice in the batch"
    if row.serial is not None and ("serial", row.serial) in seen:
        return "serial", row.serial, "this serial is announced twice in the batch"
    seen.update({here, ("serial", row.serial)} if row.serial else {here})
    return None


def _problem(
    row: AssetRow, assets: SiteAssets, known: ModuleAsset | None, owners: dict[str, Owner]
) -> Problem | None:
    """(field, value, reason) when the announcement contradicts the registry, else None."""
    if row.string not in assets.racks:
        return (
            "string",
            row.string,
            f"string {row.string} is not in this site; strings come from the site configuration",
        )
    if known is not None and row.cell_count != known.cell_count:
        return (
            "cell_count",
            row.cell_count,
            f"this module is registered with {known.cell_count} cells",
        )
    if known is not None and row.temp_count != known.temp_count:
        sensors = f"this module is registered with {known.temp_count} temperature sensors"
        return "temp_count", row.temp_count, sensors
    owner = owners.get(row.serial) if row.serial else None
    if owner is not None and owner != (assets.site_id, row.string, row.module):
        where = (
            f"string {owner[1]} module {owner[2]}"
            if owner[0] == assets.site_id
            else "a module of another site"
        )
        return "serial", row.serial, f"this serial is registered to {where}"
    return None


def _with_details(
    rows: list[tuple[int, AssetRow]], known: dict[Position, ModuleAsset]
) -> list[int]:
    """The known modules whose announcement gives a serial or firmware to compare."""
    found = (
        known.get((row.string, row.module))
        for _, row in rows
        if row.serial is not None or row.firmware is not None
    )
    return [asset.module_id for asset in found if asset is not None]


async def _details(session: AsyncSession, module_ids: list[int]) -> dict[int, Details]:
    """The registered (serial, firmware) of these modules."""
    if not module_ids:
        return {}
    result = await session.execute(
        select(Module.id, Module.serial, Module.firmware).where(Module.id.in_(module_ids))
    )
    return {module_id: (serial, firmware) for module_id, serial, firmware in result.tuples()}


async def _serial_owners(session: AsyncSession, serials: list[str | None]) -> dict[str, Owner]:
    """Where each announced serial is registered now (serials are unique across the fleet)."""
    if not serials:
        return {}
    result = await session.execute(
        select(Module.serial, Rack.site_id, Rack.index, Module.position)
        .join(Rack, Rack.id == Module.rack_id)
        .where(Module.serial.in_(serials))
    )
    return {
        serial: (site, string, module)
        for serial, site, string, module in result.tuples()
        if serial is not None
    }


async def _update_details(
    session: AsyncSession, module_id: int, details: dict[int, Details], row: AssetRow
) -> bool:
    """Take the announced serial and firmware; whether either changed."""
    serial, firmware = details.get(module_id, (None, None))
    values = {
        name: value
        for name, value, now in (
            ("serial", row.serial, serial),
            ("firmware", row.firmware, firmware),
        )
        if value is not None and value != now
    }
    if values:
        await session.execute(update(Module).where(Module.id == module_id).values(values))
    return bool(values)


async def _register(session: AsyncSession, assets: SiteAssets, rows: list[AssetRow]) -> int:
    """Add the new modules to their strings; how many were added."""
    if not rows:
        return 0
    site = await session.execute(select(Site.chemistry).where(Site.id == assets.site_id))
    chemistry = site.scalar_one()
    capacities = dict(
        (
            await session.execute(
                select(Rack.id, Rack.capacity_ah).where(Rack.site_id == assets.site_id)
            )
        )
        .tuples()
        .all()
    )
    values = [
        {
            "rack_id": assets.racks[row.string],
            "position": row.module,
            "cell_count": row.cell_count,
            "temp_count": row.temp_count,
            "chemistry": chemistry,
            "capacity_ah": capacities[assets.racks[row.string]],
            "serial": row.serial,
            "firmware": row.firmware,
        }
        for row in rows
    ]
    added = await session.execute(
        insert(Module).values(values).on_conflict_do_nothing().returning(Module.id)
    )
    return len(added.all())
