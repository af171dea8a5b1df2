"""SQL that scores one site's day: each cell's mean robust deviation, under load and at rest.

The statement mirrors app/health/robust.py sample by sample (median and 1.4826 x MAD of the
module's cells, a 1 mV floor, capped at 20) and averages per cell and regime over the day.
Samples are left out while any cell of the module balances (bleeding shifts its voltage) and
while its module or string is isolated, for a fault or for maintenance. Only constants are
interpolated; every value from outside is a bind parameter.
"""

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.health.robust import MAD_TO_SIGMA, SCALE_FLOOR_V, SCORE_CAP
from app.telemetry.rollups import DEFAULT_LOAD_C_RATE

REST_C_RATE = 0.02  # |current| at or below this C-rate counts as rest

SCORE_DAY = text(f"""
INSERT INTO cell_score_1d (module_id, day, load_samples, rest_samples, load_score, rest_score)
SELECT module_id, CAST(:day AS timestamptz), max(n_load), max(n_rest),
       CASE WHEN max(n_load) > 0 THEN array_agg(load_mean ORDER BY i) END,
       CASE WHEN max(n_rest) > 0 THEN array_agg(rest_mean ORDER BY i) END
FROM (SELECT module_id, i, avg(z) FILTER (WHERE regime = 'load') AS load_mean,
             avg(z) FILTER (WHERE regime = 'rest') AS rest_mean,
             count(*) FILTER (WHERE regime = 'load') AS n_load,
             count(*) FILTER (WHERE regime = 'rest') AS n_rest
      FROM (SELECT x.module_id, x.regime, u.i,
                   least({SCORE_CAP}, abs(u.v - x.med) / greatest({SCALE_FLOOR_V}, {MAD_TO_SIGMA}
                         * (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(w - x.med))
                            FROM unnest(x.cell_v) w))) AS z
            FROM (SELECT s.*, (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v)
                               FROM unnest(s.cell_v) v) AS med
                  FROM (SELECT s.module_id, s.ts, s.cell_v,
                               CASE WHEN abs(s.current_a) >= m.capacity_ah * coalesce(
                                        (st.settings ->> 'spread_load_c_rate')::real,
                                        {DEFAULT_LOAD_C_RATE}) THEN 'load'
                                    WHEN abs(s.current_a) <= m.capacity_ah * {REST_C_RATE}
                                    THEN 'rest' END AS regime
                        FROM module_sample s JOIN module m ON m.id = s.module_id
                        JOIN rack r ON r.id = m.rack_id JOIN site st ON st.id = r.site_id
                        WHERE r.site_id = :site_id AND s.ts >= :day
                          AND s.ts < CAST(:day AS timestamptz) + interval '1 day'
                          AND s.balancing = 0 AND s.current_a IS NOT NULL
                          AND NOT EXISTS (
                              SELECT 1 FROM isolation iso WHERE iso.rack_id = r.id
                                AND (iso.module_id IS NULL OR iso.module_id = m.id)
                                AND s.ts >= iso.onset_at
                                AND s.ts < coalesce(iso.returned_at, 'infinity'))) s
                  WHERE s.regime IS NOT NULL) x,
                 unnest(x.cell_v) WITH ORDINALITY u(v, i)) z
      GROUP BY module_id, i) c
GROUP BY module_id
ON CONFLICT (module_id, day) DO UPDATE SET load_samples = excluded.load_samples,
    rest_samples = excluded.rest_samples, load_score = excluded.load_score,
    rest_score = excluded.rest_score
""")  # noqa: S608


async def score_day(session: AsyncSession, *, site_id: int, day: datetime) -> None:
    """Score every cell of a site for the UTC day starting at `day` (idempotent)."""
    await session.execute(SCORE_DAY, {"site_id": site_id, "day": day})
