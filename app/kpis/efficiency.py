"""Round-trip efficiency over whole cycles (DESIGN.md §5), at the strings' DC terminals.

RTE = E_discharged / (E_charged - ΔE_stored). A string's stored energy is only known through
its state of charge, and turning a SoC difference into kWh needs a model of the cells that is
never exact; an error there shows up as efficiency, above 100 % when a window ends emptier
than it began. So ΔE_stored is made zero instead of estimated: each string is measured from
the window's first minute to the last minute in which its SoC came back up to where it began
(a whole cycle): the last minute ending at or above the starting SoC that is next to one ending
at or below it. It can end a little above the starting SoC, never below it, so what is left
in storage counts as loss: the figure errs low, never high.

The energies come from the string's own lifetime counters (charged and discharged kWh), as
rises between consecutive samples, so a counter that resets or wraps adds nothing; sign
conventions for current play no part.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import SiteIds

# A whole cycle counts once it charged at least this share of the string's rated energy:
# below it, counter and SoC resolution outweigh the losses being measured.
MIN_CYCLE_SHARE = 0.10

# Per string, over the window's minutes that have an energy balance: the SoC the window starts
# at, each minute's counter rises (within it, and since the previous minute: a fall adds
# nothing), and the last minute at or above the starting SoC whose previous or next minute is
# at or below it (the SoC crossed its starting level there, coming up or going down).
WHOLE_CYCLES = text("""
WITH minutes AS (
  SELECT s.rack_id, s.bucket, s.soc_pct_last AS soc,
         first_value(s.soc_pct_last) OVER w AS soc_start,
         lag(s.soc_pct_last) OVER w AS soc_before, lead(s.soc_pct_last) OVER w AS soc_after,
         s.energy_charged_kwh_gain
           + greatest(s.energy_charged_kwh_first - lag(s.energy_charged_kwh_last) OVER w, 0)
           AS charged,
         s.energy_discharged_kwh_gain
           + greatest(s.energy_discharged_kwh_first - lag(s.energy_discharged_kwh_last) OVER w, 0)
           AS discharged
  FROM rack_sample_1m s JOIN rack r ON r.id = s.rack_id
  WHERE (CAST(:sites AS int[]) IS NULL OR r.site_id = ANY(:sites))
    AND s.bucket >= :start AND s.bucket < :end AND s.soc_pct_last IS NOT NULL
    AND s.energy_charged_kwh_gain IS NOT NULL AND s.energy_discharged_kwh_gain IS NOT NULL
  WINDOW w AS (PARTITION BY s.rack_id ORDER BY s.bucket)),
closed AS (
  SELECT rack_id, max(bucket) AS bucket FROM minutes
  WHERE soc >= soc_start AND (soc_before <= soc_start OR soc_after <= soc_start)
  GROUP BY rack_id),
rated AS (
  SELECT r.id AS rack_id, st.nameplate_energy_kwh / count(*) OVER (PARTITION BY r.site_id) AS kwh
  FROM rack r JOIN site st ON st.id = r.site_id)
SELECT m.rack_id, sum(m.charged), sum(m.discharged), min(rated.kwh)
FROM minutes m JOIN closed c ON c.rack_id = m.rack_id JOIN rated ON rated.rack_id = m.rack_id
WHERE m.soc_before IS NOT NULL AND m.bucket <= c.bucket
GROUP BY m.rack_id
""")


@dataclass(frozen=True)
class StringCycle:
    """One string's whole cycle in the window: energy in and out, and its rated energy."""

    rack_id: int
    charged_kwh: float
    discharged_kwh: float
    rated_kwh: float

    @property
    def counts(self) -> bool:
        """Whether it charged enough of its rated energy to measure losses by."""
        return self.charged_kwh >= MIN_CYCLE_SHARE * self.rated_kwh

    @property
    def balanced(self) -> bool:
        """Whether it took in at least what it gave out (else its counters or SoC are off)."""
        return self.discharged_kwh <= self.charged_kwh


@dataclass(frozen=True)
class Efficiency:
    """DC round-trip efficiency over the strings' whole cycles (None: undefined)."""

    ratio: float | None
    charged_kwh: float  # into the strings counted, over their whole cycles
    discharged_kwh: float  # out of them
    losses_kwh: float  # charged - discharged: never negative
    strings: int  # strings with a whole cycle that counts
    unbalanced: int  # strings left out: more out than in over a whole cycle (bad counters)


def efficiency(cycles: Iterable[StringCycle]) -> Efficiency:
    """Combine the strings' whole cycles: those that charged enough and whose energy balances."""
    cycles = [c for c in cycles if c.counts]
    kept = [c for c in cycles if c.balanced]
    charged = sum(c.charged_kwh for c in kept)
    discharged = sum(c.discharged_kwh for c in kept)
    ratio = discharged / charged if kept and charged > 0 else None
    return Efficiency(
        ratio, charged, discharged, charged - discharged, len(kept), len(cycles) - len(kept)
    )


async def whole_cycles(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> list[StringCycle]:
    """Each string's whole cycle from the window's start, if it completed one."""
    params = {"sites": None if sites is None else list(sites), "start": start, "end": end}
    return [StringCycle(*row) for row in await session.execute(WHOLE_CYCLES, params)]


async def round_trip_efficiency(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> Efficiency:
    """Round-trip efficiency of the sites' strings over the window's whole cycles."""
    return efficiency(await whole_cycles(session, sites, start, end))
