"""SQL that scores one site's day per cell: robust deviation under load and at rest, and the
apparent self-discharge from balancing duty.

The deviation mirrors app/health/robust.py sample by sample (median and 1.4826 x MAD of the
module's cells, a 1 mV floor, capped at 20), averaged per cell and regime over the day; those
samples are left out while any cell of the module balances (bleeding shifts its voltage).

Apparent leakage: passive balancing bleeds every cell that is fuller than the module's emptiest,
so over days each cell loses the same charge to leakage plus bleeding. A cell that leaks more
than the others is bled less: its leakage above the module's typical cell is the bleed current
times (the module's median balancing duty - its own duty), in mA.

The evidence beside the scores: each cell's mean voltage minus its module's median, in mV, over
the same samples at rest and under load while discharging.

Every sample of the module or its string during an isolation (fault or maintenance) is left
out. Only constants are interpolated; every value from outside is a bind parameter.
"""

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.health.robust import MAD_TO_SIGMA, SCALE_FLOOR_V, SCORE_CAP
from app.telemetry.rollups import DEFAULT_LOAD_C_RATE

REST_C_RATE = 0.02  # |current| at or below this C-rate counts as rest
DEFAULT_BLEED_A = 0.2  # the balancing resistor's current (site setting balancing_bleed_a)

SCORE_DAY = text(f"""
WITH usable AS (
    SELECT s.module_id, s.cell_v, s.balancing, s.current_a > 0 AS discharging,
           coalesce((st.settings ->> 'balancing_bleed_a')::real, {DEFAULT_BLEED_A}) AS bleed_a,
           CASE WHEN abs(s.current_a) >= m.capacity_ah * coalesce(
                    (st.settings ->> 'spread_load_c_rate')::real, {DEFAULT_LOAD_C_RATE}) THEN 'load'
                WHEN abs(s.current_a) <= m.capacity_ah * {REST_C_RATE} THEN 'rest' END AS regime
    FROM module_sample s JOIN module m ON m.id = s.module_id
    JOIN rack r ON r.id = m.rack_id JOIN site st ON st.id = r.site_id
    WHERE r.site_id = :site_id AND s.ts >= :day
      AND s.ts < CAST(:day AS timestamptz) + interval '1 day' AND s.current_a IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM isolation iso WHERE iso.rack_id = r.id
                        AND (iso.module_id IS NULL OR iso.module_id = m.id)
                        AND s.ts >= iso.onset_at AND s.ts < coalesce(iso.returned_at, 'infinity'))
), duty AS (
    SELECT module_id, u.i, max(bleed_a) AS bleed_a,
           avg(((balancing >> (u.i - 1)::int) & 1)::real) AS duty
    FROM usable, unnest(cell_v) WITH ORDINALITY u(v, i) GROUP BY module_id, u.i
), duty_median AS (
    SELECT module_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY duty) AS med
    FROM duty GROUP BY module_id
), centred AS (
    SELECT x.*, (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(x.cell_v) v)
           AS med
    FROM usable x WHERE x.balancing = 0 AND x.regime IS NOT NULL
), scored AS (
    SELECT c.module_id, c.regime, c.discharging, u.i, u.v - c.med AS offset_v,
           least({SCORE_CAP}, abs(u.v - c.med) / greatest({SCALE_FLOOR_V}, {MAD_TO_SIGMA}
                 * (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(w - c.med))
                    FROM unnest(c.cell_v) w))) AS z
    FROM centred c, unnest(c.cell_v) WITH ORDINALITY u(v, i)
), per_cell AS (
    SELECT module_id, i, avg(z) FILTER (WHERE regime = 'load') AS load_mean,
           avg(z) FILTER (WHERE regime = 'rest') AS rest_mean,
           count(*) FILTER (WHERE regime = 'load') AS n_load,
           count(*) FILTER (WHERE regime = 'rest') AS n_rest,
           1000 * avg(offset_v) FILTER (WHERE regime = 'rest') AS rest_offset,
           1000 * avg(offset_v) FILTER (WHERE regime = 'load' AND discharging) AS dis_offset,
           count(*) FILTER (WHERE regime = 'load' AND discharging) AS n_dis
    FROM scored GROUP BY module_id, i
)
INSERT INTO cell_score_1d (module_id, day, load_samples, rest_samples, load_score, rest_score,
                           leak_ma, rest_offset_mv, discharge_offset_mv)
SELECT d.module_id, CAST(:day AS timestamptz), coalesce(max(c.n_load), 0),
       coalesce(max(c.n_rest), 0),
       CASE WHEN max(c.n_load) > 0 THEN array_agg(c.load_mean ORDER BY d.i) END,
       CASE WHEN max(c.n_rest) > 0 THEN array_agg(c.rest_mean ORDER BY d.i) END,
       array_agg(1000 * d.bleed_a * (m.med - d.duty) ORDER BY d.i),
       CASE WHEN max(c.n_rest) > 0 THEN array_agg(c.rest_offset ORDER BY d.i) END,
       CASE WHEN max(c.n_dis) > 0 THEN array_agg(c.dis_offset ORDER BY d.i) END
FROM duty d JOIN duty_median m ON m.module_id = d.module_id
LEFT JOIN per_cell c ON c.module_id = d.module_id AND c.i = d.i
GROUP BY d.module_id
ON CONFLICT (module_id, day) DO UPDATE SET load_samples = excluded.load_samples,
    rest_samples = excluded.rest_samples, load_score = excluded.load_score,
    rest_score = excluded.rest_score, leak_ma = excluded.leak_ma,
    rest_offset_mv = excluded.rest_offset_mv, discharge_offset_mv = excluded.discharge_offset_mv
""")  # noqa: S608


async def score_day(session: AsyncSession, *, site_id: int, day: datetime) -> None:
    """Score every cell of a site for the UTC day starting at `day` (idempotent)."""
    await session.execute(SCORE_DAY, {"site_id": site_id, "day": day})
