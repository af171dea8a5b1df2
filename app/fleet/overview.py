"""What the fleet and site screens show at the top: state, SoC, power, capacity, alarms, spread.

One statement for any number of sites. Module alarms under a deliberately isolated string are
suppressed (ISA-18.2 suppressed-by-design) and are not counted as active.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.queries import UNDER_ISOLATED_STRING
from app.core.scope import SiteIds

OFFLINE_AFTER = timedelta(seconds=60)  # no string data for this long: the site is offline

# Alarms that stand (not shelved, not suppressed by an open isolation of their string).
STANDING_ALARMS = f"""
SELECT a.* FROM alarm a
WHERE a.state IN ('unacked', 'acked', 'rtn_unacked') AND NOT ({UNDER_ISOLATED_STRING})
"""  # noqa: S608 - constants only

# A connected string's share of its nameplate: the tighter of its two limits, at most 1. Capacity
# online is the sum of these over the closed strings (the command preview uses it too).
STRING_SHARE = """least(1.0,
  coalesce(l.charge_limit_a / nullif(r.max_charge_a, 0), 1.0),
  coalesce(l.discharge_limit_a / nullif(r.max_discharge_a, 0), 1.0))"""

OVERVIEW = text(f"""
WITH racks AS (
  SELECT r.site_id, count(*) AS strings,
         count(*) FILTER (WHERE l.contactor_closed) AS closed,
         count(*) FILTER (WHERE l.contactor_closed AND (l.charge_limit_a < r.max_charge_a
                                 OR l.discharge_limit_a < r.max_discharge_a)) AS derated,
         coalesce(sum(l.n_mod_bypassed), 0) AS bypassed,
         sum(CASE WHEN l.contactor_closed THEN {STRING_SHARE} ELSE 0 END) AS capacity_online,
         avg(l.soc_pct) AS soc_pct, sum(l.power_kw) AS power_kw, max(l.ts) AS last_data_at
  FROM rack r LEFT JOIN rack_latest l ON l.rack_id = r.id
  GROUP BY r.site_id),
modules AS (
  SELECT r.site_id, count(*) AS modules,
         max((ml.cell_v_max - ml.cell_v_min) * 1000) AS worst_spread_mv
  FROM module m JOIN rack r ON r.id = m.rack_id
  LEFT JOIN module_latest ml ON ml.module_id = m.id
  GROUP BY r.site_id),
alarms AS (
  SELECT site_id, count(*) FILTER (WHERE priority = 1) AS p1,
         count(*) FILTER (WHERE priority = 2) AS p2, count(*) FILTER (WHERE priority = 3) AS p3,
         count(*) FILTER (WHERE priority = 4) AS p4,
         count(*) FILTER (WHERE state <> 'acked') AS unacked
  FROM ({STANDING_ALARMS}) standing GROUP BY site_id)
SELECT s.id, s.code, s.name, s.nameplate_power_kw, s.nameplate_energy_kwh,
       coalesce(racks.strings, 0), coalesce(racks.closed, 0), coalesce(racks.derated, 0),
       coalesce(racks.bypassed, 0), racks.capacity_online, racks.soc_pct, racks.power_kw,
       racks.last_data_at, coalesce(modules.modules, 0), modules.worst_spread_mv,
       coalesce(alarms.p1, 0), coalesce(alarms.p2, 0), coalesce(alarms.p3, 0),
       coalesce(alarms.p4, 0), coalesce(alarms.unacked, 0)
FROM site s
LEFT JOIN racks ON racks.site_id = s.id
LEFT JOIN modules ON modules.site_id = s.id
LEFT JOIN alarms ON alarms.site_id = s.id
WHERE CAST(:sites AS int[]) IS NULL OR s.id = ANY(:sites)
ORDER BY s.name
""")  # noqa: S608 - the f-string only inlines a constant


class SiteState(StrEnum):
    """A site's condition at a glance, from worst to best."""

    OFFLINE = "offline"
    TRIPPED = "tripped"
    ISOLATED = "isolated"
    DEGRADED = "degraded"
    NORMAL = "normal"


SEVERITY = {state: rank for rank, state in enumerate(SiteState)}
STATE_LABELS = {
    SiteState.OFFLINE: "Offline",
    SiteState.TRIPPED: "Tripped",
    SiteState.ISOLATED: "Strings isolated",
    SiteState.DEGRADED: "Degraded",
    SiteState.NORMAL: "Normal",
}


@dataclass(frozen=True, slots=True)
class SiteOverview:
    """One site's headline figures."""

    id: int
    code: str
    name: str
    nameplate_power_kw: float
    nameplate_energy_kwh: float
    strings: int
    strings_closed: int
    strings_derated: int
    modules_bypassed: int
    capacity_online: float | None  # string-equivalents carrying current, derates pro rata
    soc_pct: float | None
    power_kw: float | None
    last_data_at: datetime | None
    modules: int
    worst_spread_mv: float | None
    alarms_p1: int
    alarms_p2: int
    alarms_p3: int
    alarms_p4: int
    alarms_unacked: int

    @property
    def capacity_online_pct(self) -> float | None:
        """Capacity online as a percentage of the site's strings."""
        if not self.strings or self.capacity_online is None:
            return None
        return 100.0 * self.capacity_online / self.strings

    @property
    def alarms_total(self) -> int:
        """Standing alarms of every priority."""
        return self.alarms_p1 + self.alarms_p2 + self.alarms_p3 + self.alarms_p4

    def state(self, now: datetime) -> SiteState:
        """Offline, tripped, isolated strings, degraded or normal."""
        if self.last_data_at is None or now - self.last_data_at > OFFLINE_AFTER:
            return SiteState.OFFLINE
        if self.strings and self.strings_closed == 0:
            return SiteState.TRIPPED
        if self.strings_closed < self.strings:
            return SiteState.ISOLATED
        if self.strings_derated or self.modules_bypassed:
            return SiteState.DEGRADED
        return SiteState.NORMAL


async def site_overviews(session: AsyncSession, sites: SiteIds = None) -> list[SiteOverview]:
    """Headline figures of the given sites (None: every site), by name."""
    result = await session.execute(OVERVIEW, {"sites": None if sites is None else list(sites)})
    return [SiteOverview(*row) for row in result]
