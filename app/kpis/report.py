"""Every KPI of a window in one object: the KPI page renders it, the API returns it."""

from datetime import datetime

from pydantic import BaseModel, computed_field
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import SiteIds
from app.kpis import efficiency, queries


class KpiReport(BaseModel):
    """KPIs over [start, end) for some sites or the fleet; definitions in DESIGN.md §KPIs."""

    start: datetime
    end: datetime
    spread_under_load: queries.Spread
    mtta: queries.Durations
    time_to_isolate: dict[str, queries.Durations]  # 'all' and by who isolated
    mttr: queries.Durations
    availability: queries.Availability
    energy: efficiency.Efficiency  # over whole cycles, at the strings' DC terminals
    balancing: queries.Balancing
    fault_pareto: list[queries.ParetoRow]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def round_trip_efficiency(self) -> float | None:
        """E_discharged / E_charged over whole cycles (ΔE_stored = 0); None when undefined."""
        return self.energy.ratio


async def kpi_report(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> KpiReport:
    """Run every KPI query over the window."""
    window = (session, sites, start, end)
    return KpiReport(
        start=start,
        end=end,
        spread_under_load=await queries.spread_under_load(*window),
        mtta=await queries.mtta(*window),
        time_to_isolate=await queries.time_to_isolate(*window),
        mttr=await queries.mttr(*window),
        availability=await queries.availability(*window),
        energy=await efficiency.round_trip_efficiency(*window),
        balancing=await queries.balancing_speed(*window),
        fault_pareto=await queries.fault_pareto(*window),
    )
