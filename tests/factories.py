"""Factories for test data, built through the app's own services."""

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.sites.models import Module, Rack
from app.sites.schemas import SiteConfig
from app.sites.service import AppliedSite, apply_site_config, create_edge_device
from app.telemetry.schemas import ModuleSampleRow

_site_numbers = itertools.count(1)


def site_config(**overrides: Any) -> SiteConfig:
    """A small valid LFP site (2 strings x 3 modules x 16 cells) with a unique code."""
    n = next(_site_numbers)
    values: dict[str, Any] = {
        "code": f"test-site-{n}",
        "name": f"Test Site {n}",
        "timezone": "UTC",
        "nameplate_power_kw": 100.0,
        "nameplate_energy_kwh": 200.0,
        "racks": 2,
        "modules_per_rack": 3,
        "cells_per_module": 16,
        "temps_per_module": 4,
        "module_capacity_ah": 280.0,
        "rack_max_charge_a": 140.0,
        "rack_max_discharge_a": 140.0,
    }
    values.update(overrides)
    return SiteConfig(**values)


async def make_site(session: AsyncSession, **overrides: Any) -> AppliedSite:
    """A site with its strings and modules, created through the registry service."""
    return await apply_site_config(session, config=site_config(**overrides))


def module_sample(
    module_id: int, ts: datetime, cell_v: list[float], **overrides: Any
) -> ModuleSampleRow:
    """A module sample whose summary columns agree with its cell voltages.

    Values carry at most six significant digits, which a REAL column keeps exactly.
    """
    cells = [round(v, 4) for v in cell_v]
    values: dict[str, Any] = {
        "module_id": module_id,
        "ts": ts,
        "soc_pct": 55.5,
        "soh_pct": 98.25,
        "current_a": -42.5,
        "voltage_v": round(sum(cells), 3),
        "cell_v": cells,
        "cell_v_min": min(cells),
        "cell_v_max": max(cells),
        "cell_v_avg": round(sum(cells) / len(cells), 4),
        "cell_v_min_idx": cells.index(min(cells)),
        "cell_v_max_idx": cells.index(max(cells)),
        "temp_c": [24.5, 25.0, 26.5, 25.25],
        "temp_c_max": 26.5,
        "balancing": 0b1000_0000_0000_0101,
        "status_bits": 3,
        "fault_bits": 1 << 40,
        "quality": 0,
    }
    values.update(overrides)
    return ModuleSampleRow(**values)


async def module_ids(session: AsyncSession, site: AppliedSite) -> list[int]:
    """The ids of a site's modules, string by string, position by position."""
    result = await session.execute(
        select(Module.id)
        .join(Rack, Rack.id == Module.rack_id)
        .where(Rack.site_id == site.site_id)
        .order_by(Rack.index, Module.position)
    )
    return list(result.scalars())


@dataclass(frozen=True)
class DeviceSite:
    """A committed site with an edge device, as a live server sees it."""

    code: str
    site_id: int
    token: str
    module_ids: list[int]
    name: str = ""


async def committed_device_site(engine: AsyncEngine, **overrides: Any) -> DeviceSite:
    """Commit a site and an edge device for it (the live server cannot see rolled-back data)."""
    config = site_config(**overrides)
    async with AsyncSession(engine) as session, session.begin():
        applied = await apply_site_config(session, config=config)
        token = await create_edge_device(session, site_code=config.code, name="edge-test")
        modules = await module_ids(session, applied)
    return DeviceSite(config.code, applied.site_id, token, modules, config.name)
