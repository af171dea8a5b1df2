"""One-minute rollups, maintained incrementally from a queue of minutes that received data.

Ingest marks each minute it writes as dirty; the job claims dirty minutes with
FOR UPDATE SKIP LOCKED (so concurrent runs split the work), recomputes those minutes from the
raw samples and upserts them. Late data re-marks its minute, which is then recomputed: the
job is idempotent and safe to run in several processes at once.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

MODULES, RACKS = "module", "rack"
COMPLETE_AFTER = timedelta(seconds=65)  # a minute is rolled up once it (and a grace) has passed

MARK = text(
    "INSERT INTO rollup_dirty (source, bucket) SELECT * FROM unnest(CAST(:sources AS text[]), "
    "CAST(:buckets AS timestamptz[])) ON CONFLICT DO NOTHING"
)

CLAIM = text("""
DELETE FROM rollup_dirty WHERE (source, bucket) IN (
    SELECT source, bucket FROM rollup_dirty
    WHERE source = :source AND bucket < :cutoff
    ORDER BY bucket LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING bucket
""")

MODULE_ROLLUP = text("""
INSERT INTO module_sample_1m AS r (module_id, bucket, samples, soc_pct_avg, current_a_avg,
    current_a_abs_max, voltage_v_avg, cell_v_min, cell_v_max, cell_v_avg, spread_mv_avg,
    spread_mv_max, spread_mv_p95, temp_c_max, balancing_samples)
SELECT module_id, time_bucket('1 minute', ts), count(*), avg(soc_pct), avg(current_a),
       max(abs(current_a)), avg(voltage_v), min(cell_v_min), max(cell_v_max), avg(cell_v_avg),
       avg(spread), max(spread), percentile_cont(0.95) WITHIN GROUP (ORDER BY spread),
       max(temp_c_max), count(*) FILTER (WHERE balancing <> 0)
FROM (SELECT *, (cell_v_max - cell_v_min) * 1000 AS spread FROM module_sample
      WHERE ts >= :first AND ts < :last + interval '1 minute'
        AND time_bucket('1 minute', ts) = ANY(CAST(:buckets AS timestamptz[]))) s
GROUP BY 1, 2
ON CONFLICT (module_id, bucket) DO UPDATE SET samples = excluded.samples,
    soc_pct_avg = excluded.soc_pct_avg, current_a_avg = excluded.current_a_avg,
    current_a_abs_max = excluded.current_a_abs_max, voltage_v_avg = excluded.voltage_v_avg,
    cell_v_min = excluded.cell_v_min, cell_v_max = excluded.cell_v_max,
    cell_v_avg = excluded.cell_v_avg, spread_mv_avg = excluded.spread_mv_avg,
    spread_mv_max = excluded.spread_mv_max, spread_mv_p95 = excluded.spread_mv_p95,
    temp_c_max = excluded.temp_c_max, balancing_samples = excluded.balancing_samples
""")

# The energy balance columns use only the samples that carry SoC and both energy counters
# ("balanced"), so that a minute's end state and the counters' rises come from the same rows.
RACK_ROLLUP = text("""
INSERT INTO rack_sample_1m AS r (rack_id, bucket, samples, voltage_v_avg, current_a_avg,
    current_a_min, current_a_max, power_kw_avg, soc_pct_avg, cell_v_min, cell_v_max,
    spread_mv_max, spread_mv_p95, closed_samples, charge_limit_a_min, discharge_limit_a_min,
    energy_charged_kwh_max, energy_discharged_kwh_max, soc_pct_last, energy_charged_kwh_first,
    energy_charged_kwh_last, energy_charged_kwh_gain, energy_discharged_kwh_first,
    energy_discharged_kwh_last, energy_discharged_kwh_gain)
SELECT rack_id, minute, count(*), avg(voltage_v), avg(current_a),
       min(current_a), max(current_a), avg(power_kw), avg(soc_pct), min(cell_v_min),
       max(cell_v_max), max(spread), percentile_cont(0.95) WITHIN GROUP (ORDER BY spread),
       count(*) FILTER (WHERE contactor_closed), min(charge_limit_a), min(discharge_limit_a),
       max(energy_charged_kwh), max(energy_discharged_kwh),
       (array_agg(soc_pct ORDER BY ts DESC) FILTER (WHERE balanced))[1],
       (array_agg(energy_charged_kwh ORDER BY ts) FILTER (WHERE balanced))[1],
       (array_agg(energy_charged_kwh ORDER BY ts DESC) FILTER (WHERE balanced))[1],
       sum(greatest(energy_charged_kwh - charged_before, 0)) FILTER (WHERE balanced),
       (array_agg(energy_discharged_kwh ORDER BY ts) FILTER (WHERE balanced))[1],
       (array_agg(energy_discharged_kwh ORDER BY ts DESC) FILTER (WHERE balanced))[1],
       sum(greatest(energy_discharged_kwh - discharged_before, 0)) FILTER (WHERE balanced)
FROM (SELECT *, lag(energy_charged_kwh) OVER w AS charged_before,
             lag(energy_discharged_kwh) OVER w AS discharged_before
      FROM (SELECT *, time_bucket('1 minute', ts) AS minute,
                   (cell_v_max - cell_v_min) * 1000 AS spread,
                   (soc_pct IS NOT NULL AND energy_charged_kwh IS NOT NULL
                    AND energy_discharged_kwh IS NOT NULL) AS balanced
            FROM rack_sample
            WHERE ts >= :first AND ts < :last + interval '1 minute'
              AND time_bucket('1 minute', ts) = ANY(CAST(:buckets AS timestamptz[]))) raw
      WINDOW w AS (PARTITION BY rack_id, minute, balanced ORDER BY ts)) s
GROUP BY 1, 2
ON CONFLICT (rack_id, bucket) DO UPDATE SET samples = excluded.samples,
    voltage_v_avg = excluded.voltage_v_avg, current_a_avg = excluded.current_a_avg,
    current_a_min = excluded.current_a_min, current_a_max = excluded.current_a_max,
    power_kw_avg = excluded.power_kw_avg, soc_pct_avg = excluded.soc_pct_avg,
    cell_v_min = excluded.cell_v_min, cell_v_max = excluded.cell_v_max,
    spread_mv_max = excluded.spread_mv_max, spread_mv_p95 = excluded.spread_mv_p95,
    closed_samples = excluded.closed_samples, charge_limit_a_min = excluded.charge_limit_a_min,
    discharge_limit_a_min = excluded.discharge_limit_a_min,
    energy_charged_kwh_max = excluded.energy_charged_kwh_max,
    energy_discharged_kwh_max = excluded.energy_discharged_kwh_max,
    soc_pct_last = excluded.soc_pct_last,
    energy_charged_kwh_first = excluded.energy_charged_kwh_first,
    energy_charged_kwh_last = excluded.energy_charged_kwh_last,
    energy_charged_kwh_gain = excluded.energy_charged_kwh_gain,
    energy_discharged_kwh_first = excluded.energy_discharged_kwh_first,
    energy_discharged_kwh_last = excluded.energy_discharged_kwh_last,
    energy_discharged_kwh_gain = excluded.energy_discharged_kwh_gain
""")


SPREAD_BIN_MV = 0.5
SPREAD_LAST_BIN = 399  # 0-199.5 mV in 0.5 mV bins; the last bin also holds anything larger
DEFAULT_LOAD_C_RATE = 0.2  # "under load" = |string current| >= this C-rate (site setting)

# The per-site load threshold in amperes: the string's capacity times the site's C-rate.
LOAD_A = f"""(SELECT r.id, r.capacity_ah * coalesce((st.settings ->> 'spread_load_c_rate')::real,
            {DEFAULT_LOAD_C_RATE}) AS load_a FROM rack r JOIN site st ON st.id = r.site_id)"""  # noqa: S608 - constants only

# Only module constants are interpolated below; every value from outside is a bind parameter.
SPREAD_DAYS = text(f"""
INSERT INTO rack_spread_1d (rack_id, day, minutes, minutes_load, load_a, max_mv, max_mv_load,
                            bins, counts, counts_load)
SELECT rack_id, day, sum(n), sum(nl), max(load_a), max(mx), max(mxl), array_agg(bin ORDER BY bin),
       array_agg(n ORDER BY bin), array_agg(nl ORDER BY bin)
FROM (SELECT s.rack_id, time_bucket('1 day', s.bucket) AS day, l.load_a,
             least(floor(s.spread_mv_p95 / {SPREAD_BIN_MV}), {SPREAD_LAST_BIN})::smallint AS bin,
             count(*)::int AS n,
             (count(*) FILTER (WHERE abs(s.current_a_avg) >= l.load_a))::int AS nl,
             max(s.spread_mv_max) AS mx,
             max(s.spread_mv_max) FILTER (WHERE abs(s.current_a_avg) >= l.load_a) AS mxl
      FROM rack_sample_1m s JOIN {LOAD_A} l ON l.id = s.rack_id
      WHERE s.bucket >= :first AND s.bucket < :last + interval '1 day'
        AND time_bucket('1 day', s.bucket) = ANY(CAST(:days AS timestamptz[]))
        AND s.spread_mv_p95 IS NOT NULL
      GROUP BY 1, 2, 3, 4) h
GROUP BY rack_id, day
ON CONFLICT (rack_id, day) DO UPDATE SET minutes = excluded.minutes,
    minutes_load = excluded.minutes_load, load_a = excluded.load_a, max_mv = excluded.max_mv,
    max_mv_load = excluded.max_mv_load, bins = excluded.bins, counts = excluded.counts,
    counts_load = excluded.counts_load
""")  # noqa: S608


def minute(ts: datetime) -> datetime:
    """The start of the minute a timestamp falls in."""
    return ts.replace(second=0, microsecond=0)


async def mark_dirty(session: AsyncSession, stamps: Mapping[str, Iterable[datetime]]) -> None:
    """Queue the minutes these samples fall in, per source, for (re)computation (one statement)."""
    pairs = sorted({(source, minute(ts)) for source, times in stamps.items() for ts in set(times)})
    if pairs:
        sources, buckets = zip(*pairs, strict=True)
        await session.execute(MARK, {"sources": list(sources), "buckets": list(buckets)})


async def roll_up(session: AsyncSession, *, now: datetime, limit: int = 240) -> int:
    """Recompute up to `limit` complete dirty minutes per source; returns minutes done."""
    done = 0
    for source, statement in ((MODULES, MODULE_ROLLUP), (RACKS, RACK_ROLLUP)):
        claimed = await session.execute(
            CLAIM, {"source": source, "cutoff": now - COMPLETE_AFTER, "limit": limit}
        )
        buckets = sorted(claimed.scalars())
        if buckets:
            await session.execute(
                statement, {"buckets": buckets, "first": buckets[0], "last": buckets[-1]}
            )
            done += len(buckets)
            if source == RACKS:
                await refresh_spread_days(session, {b.replace(hour=0, minute=0) for b in buckets})
    return done


async def refresh_spread_days(session: AsyncSession, days: Iterable[datetime]) -> None:
    """Recompute the daily spread histograms of these UTC days (midnights)."""
    days = sorted(days)
    await session.execute(SPREAD_DAYS, {"days": days, "first": days[0], "last": days[-1]})
