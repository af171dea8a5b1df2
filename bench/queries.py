"""Query latency on a generated fleet: a site's latest state, a module's 24 h series, 30-day
spread p95 per string. Each is reported as p50/p95 and as a ratio to a one-row primary-key
lookup measured in the same run.

Default: a 2,016-module site (63 strings x 32), one day of raw samples at 5 s (~35 M module
samples), one-minute rollups of that day computed by the real rollup job, and 30 days of string
rollups. --small: 200 modules, 6 hours. Run: .venv/bin/python -m bench.queries [--small]
"""

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.telemetry.latest import site_latest
from app.telemetry.queries import module_series, spread_per_string
from app.telemetry.rollups import refresh_spread_days, roll_up
from bench.common import BENCH_DB, big_site_config, create_site, fresh_database, percentiles
from tests.db import database_url

# Twenty cell-voltage patterns, computed once; raw rows pick one each, so generation is bound
# by the insert rate rather than by building arrays row by row.
PATTERNS = text("""
CREATE TABLE IF NOT EXISTS bench_pattern AS
SELECT p, cells, (SELECT min(x) FROM unnest(cells) x) AS lo, (SELECT max(x) FROM unnest(cells) x)
       AS hi, (SELECT avg(x) FROM unnest(cells) x)::real AS av
FROM (SELECT p, ARRAY(SELECT (3.28 + ((p * 7 + i * 13) % 20) / 1000.0)::real
                      FROM generate_series(1, 16) i) AS cells
      FROM generate_series(0, 19) p) q
""")

RAW_HOUR = text("""
INSERT INTO module_sample (module_id, ts, soc_pct, soh_pct, current_a, voltage_v, cell_v,
    cell_v_min, cell_v_max, cell_v_avg, cell_v_min_idx, cell_v_max_idx, temp_c, temp_c_max,
    balancing, status_bits, fault_bits, quality)
SELECT m.id, t, 50 + 40 * sin(extract(epoch FROM t) / 20000), 97,
       -100 * cos(extract(epoch FROM t) / 20000), 52.6, p.cells, p.lo, p.hi, p.av, 0, 15,
       ARRAY[24.5, 25, 25.5, 24]::real[], 25.5, 0, 3, 0, 0
FROM module m JOIN rack r ON r.id = m.rack_id
CROSS JOIN generate_series(:start, :start + interval '1 hour' - interval '1 second', :step) t
JOIN bench_pattern p ON p.p = (m.id + extract(epoch FROM t)::bigint / 5) % 20
WHERE r.site_id = :site
""")

RACK_RAW = text("""
INSERT INTO rack_sample (rack_id, ts, voltage_v, current_a, power_kw, soc_pct, soh_pct,
    contactor_closed, n_mod_connected, n_mod_bypassed, insulation_kohm, charge_limit_a,
    discharge_limit_a, energy_charged_kwh, energy_discharged_kwh, cell_v_min, cell_v_max,
    status_bits, fault_bits, disable_reason, quality)
SELECT r.id, t, 1680, -100 * cos(extract(epoch FROM t) / 20000), -168 * cos(extract(epoch FROM t)
       / 20000), 50, 97, true, 32, 0, 5000, 140, 140, 1, 1, 3.28, 3.30, 2, 0, 0, 0
FROM rack r, generate_series(:start, :end, :step) t WHERE r.site_id = :site
""")

RACK_ROLLUPS = text("""
INSERT INTO rack_sample_1m (rack_id, bucket, samples, voltage_v_avg, current_a_avg,
    current_a_min, current_a_max, power_kw_avg, soc_pct_avg, cell_v_min, cell_v_max,
    spread_mv_max, spread_mv_p95, closed_samples, charge_limit_a_min, discharge_limit_a_min,
    energy_charged_kwh_max, energy_discharged_kwh_max)
SELECT r.id, b, 12, 1680, -100 * cos(extract(epoch FROM b) / 20000), -110, 90, -150, 50, 3.28,
       3.30, 20 + (r.id + extract(epoch FROM b)::int / 60) % 15, 18 + r.id % 7, 12, 140, 140, 1, 1
FROM rack r, generate_series(:start, :end, interval '1 minute') b WHERE r.site_id = :site
""")


async def generate(engine: AsyncEngine, site_id: int, start: datetime, hours: int) -> None:
    """Raw samples hour by hour, string samples, module rollups by the job, string rollups."""
    step = timedelta(seconds=5)
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(PATTERNS)
    for hour in range(hours):
        begin = time.perf_counter()
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(
                RAW_HOUR, {"start": start + timedelta(hours=hour), "step": step, "site": site_id}
            )
        print(f"  raw hour {hour + 1}/{hours} in {time.perf_counter() - begin:.1f} s", flush=True)
    end = start + timedelta(hours=hours) - step
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(RACK_RAW, {"start": start, "end": end, "step": step, "site": site_id})
        await session.execute(
            RACK_ROLLUPS, {"start": end - timedelta(days=30), "end": end, "site": site_id}
        )
        await session.execute(
            text(
                "INSERT INTO rollup_dirty "
                "SELECT 'module', generate_series(:s, :e, interval '1 minute')"
            ),
            {"s": start, "e": end - timedelta(minutes=1)},
        )
    begin = time.perf_counter()
    while True:
        async with AsyncSession(engine) as session, session.begin():
            if not await roll_up(session, now=end + timedelta(hours=1), limit=60):
                break
    print(f"  rollup job over the raw data: {time.perf_counter() - begin:.1f} s", flush=True)
    async with AsyncSession(engine) as session, session.begin():
        await refresh_spread_days(
            session,
            [
                end.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=d)
                for d in range(31)
            ],
        )
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO module_latest SELECT DISTINCT ON (module_id) * FROM module_sample "
                "WHERE ts > :t ORDER BY module_id, ts DESC"
            ),
            {"t": end - timedelta(minutes=1)},
        )
        await session.execute(text("ANALYZE"))


async def measure(
    engine: AsyncEngine, query: Callable[[AsyncSession], Awaitable[object]], repeats: int
) -> list[float]:
    """Latencies in ms of `repeats` runs, each in its own session."""
    out = []
    for _ in range(repeats):
        async with AsyncSession(engine) as session:
            begin = time.perf_counter()
            await query(session)
            out.append((time.perf_counter() - begin) * 1000)
    return out


async def run_queries(engine: AsyncEngine, site_id: int, end: datetime, repeats: int) -> None:
    """Measure the three screen queries and the one-row baseline, print p50/p95 and ratios."""
    async with AsyncSession(engine) as session:
        ids = list(
            (
                await session.execute(
                    text(
                        "SELECT m.id FROM module m JOIN rack r ON r.id = m.rack_id "
                        "WHERE r.site_id = :s"
                    ),
                    {"s": site_id},
                )
            ).scalars()
        )
    rnd = random.Random(1)

    async def one_row(s: AsyncSession) -> object:
        return (
            await s.execute(
                text("SELECT * FROM module_latest WHERE module_id = :m"), {"m": rnd.choice(ids)}
            )
        ).first()

    queries = {
        "one-row PK lookup (baseline)": one_row,
        "site latest state": lambda s: site_latest(s, site_id=site_id),
        "module 24 h series": lambda s: module_series(
            s, module_id=rnd.choice(ids), start=end - timedelta(hours=24), end=end
        ),
        "30-day spread p95 per string": lambda s: spread_per_string(
            s, site_id=site_id, start=end - timedelta(days=30), end=end
        ),
    }
    async with AsyncSession(engine) as session:
        spread = await spread_per_string(
            session, site_id=site_id, start=end - timedelta(days=30), end=end, under_load=True
        )
    covered = [row for row in spread if row.minutes]
    print(
        f"30-day spread covers {len(covered)}/{len(spread)} strings, "
        f"{sum(r.minutes for r in covered) // max(1, len(covered)):,} loaded minutes each"
    )
    baseline = None
    for name, query in queries.items():
        await measure(engine, query, 3)  # warm caches and the pool
        p50, p95 = percentiles(await measure(engine, query, repeats))
        baseline = baseline or p50
        print(
            f"{name:<30} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  p50/baseline {p50 / baseline:7.1f}x"
        )


async def existing_fleet(engine: AsyncEngine) -> tuple[int, datetime]:
    """The site id and data end of a fleet generated by an earlier run (--reuse)."""
    async with AsyncSession(engine) as session:
        site_id = (
            await session.execute(text("SELECT id FROM site WHERE code = 'bench-queries'"))
        ).scalar_one()
        last = (await session.execute(text("SELECT max(ts) FROM module_sample"))).scalar_one()
    end: datetime = last + timedelta(seconds=5)
    return site_id, end


def main() -> None:
    """Generate the fleet (unless --reuse), then measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="200 modules, 6 hours")
    parser.add_argument("--reuse", action="store_true", help="measure the fleet of the last run")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    strings, modules, hours = (8, 25, 6) if args.small else (63, 32, 24)
    url = database_url(BENCH_DB) if args.reuse else fresh_database()

    async def go() -> None:
        engine = create_async_engine(url, connect_args={"options": "-c timezone=UTC"})
        if args.reuse:
            site_id, end = await existing_fleet(engine)
            async with AsyncSession(engine) as session, session.begin():
                days = [
                    end.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=d)
                    for d in range(31)
                ]
                await refresh_spread_days(session, days)
        else:
            site, _ = await create_site(url, big_site_config("bench-queries", strings, modules))
            site_id, end = (
                site.site_id,
                datetime.now(UTC).replace(minute=0, second=0, microsecond=0),
            )
            print(
                f"generating {strings * modules} modules x {hours} h at 5 s "
                f"({strings * modules * hours * 720:,} module samples)",
                flush=True,
            )
            await generate(engine, site_id, end - timedelta(hours=hours), hours)
        await run_queries(engine, site_id, end, args.repeats)
        await engine.dispose()

    asyncio.run(go())


if __name__ == "__main__":
    main()
