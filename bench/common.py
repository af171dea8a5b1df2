"""Shared pieces of the benchmarks: a scratch database, a big site, a live backend."""

import asyncio
import os
import statistics
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.sites.schemas import SiteConfig
from app.sites.service import AppliedSite, apply_site_config, create_edge_device
from tests.db import migrate, recreate_database

BENCH_DB = "ridethrough_bench"


def fresh_database() -> str:
    """A migrated, empty benchmark database; returns its URL."""
    url = recreate_database(BENCH_DB)
    migrate(url)
    return url


def big_site_config(code: str, strings: int, modules: int) -> SiteConfig:
    """An LFP site of strings x modules 16-cell modules."""
    return SiteConfig(
        code=code,
        name=code,
        nameplate_power_kw=strings * 100.0,
        nameplate_energy_kwh=strings * 200.0,
        racks=strings,
        modules_per_rack=modules,
        cells_per_module=16,
        temps_per_module=4,
        module_capacity_ah=280,
        rack_max_charge_a=140,
        rack_max_discharge_a=140,
    )


async def create_site(url: str, config: SiteConfig) -> tuple[AppliedSite, str]:
    """Create the site and an edge device; returns the site and the device token."""
    engine = create_async_engine(url)
    async with AsyncSession(engine) as session, session.begin():
        site = await apply_site_config(session, config=config)
        token = await create_edge_device(session, site_code=config.code, name="bench")
    await engine.dispose()
    return site, token


def run(coro: Any) -> Any:
    """Run a coroutine to completion."""
    return asyncio.run(coro)


def cpu_busy_s() -> float:
    """CPU seconds spent by the whole machine so far (every core, every process): /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_by_process_s() -> dict[str, float]:
    """CPU seconds so far of PostgreSQL's processes, of this process, and of every other one.

    A PostgreSQL backend that exits moves its time into the postmaster's children's time, which
    is counted too, so a difference of two calls stays right across connections that close.
    """
    tick = os.sysconf("SC_CLK_TCK")
    spent = {"postgres": 0.0, "this process": 0.0, "others": 0.0}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = path.read_text()
        except OSError:
            continue  # the process has just ended
        name = text[text.index("(") + 1 : text.rindex(")")]
        # Fields after the name: state is field 3 of proc(5), so utime..cstime (14-17) are 11-14.
        utime, stime, cutime, cstime = (int(x) for x in text[text.rindex(")") + 2 :].split()[11:15])
        if name == "postgres":
            spent["postgres"] += (utime + stime + cutime + cstime) / tick
        elif int(path.parent.name) == os.getpid():
            spent["this process"] += (utime + stime) / tick
        else:
            spent["others"] += (utime + stime) / tick
    return spent


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """(p50, p95) of latency samples in ms."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95
