"""What the REST API returns: sites, strings, modules, latest state, alarms, isolations."""

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel, Field

from app.alarms.queries import AlarmView
from app.fleet.overview import SiteOverview
from app.isolations.repository import IsolationView
from app.telemetry.export_query import STRING_RAW, SYSTEM_RAW
from app.telemetry.sign import CONVENTION


class SiteOut(BaseModel):
    """A site with its nameplate and headline state."""

    code: str
    name: str
    nameplate_power_kw: float
    nameplate_energy_kwh: float
    strings: int
    modules: int
    state: str = Field(description="offline, tripped, isolated, degraded or normal")
    strings_closed: int
    strings_derated: int
    modules_bypassed: int
    capacity_online_pct: float | None
    soc_pct: float | None
    power_kw: float | None = Field(description=f"sum of the strings' power; {CONVENTION}")
    worst_spread_mv: float | None
    alarms_unacked: int
    alarms_by_priority: dict[str, int] = Field(description="standing alarms, keys p1…p4")
    last_data_at: datetime | None

    @classmethod
    def of(cls, site: SiteOverview, now: datetime) -> "SiteOut":
        """From the overview the screens use."""
        return cls(
            code=site.code,
            name=site.name,
            nameplate_power_kw=site.nameplate_power_kw,
            nameplate_energy_kwh=site.nameplate_energy_kwh,
            strings=site.strings,
            modules=site.modules,
            state=site.state(now).value,
            strings_closed=site.strings_closed,
            strings_derated=site.strings_derated,
            modules_bypassed=site.modules_bypassed,
            capacity_online_pct=site.capacity_online_pct,
            soc_pct=site.soc_pct,
            power_kw=site.power_kw,
            worst_spread_mv=site.worst_spread_mv,
            alarms_unacked=site.alarms_unacked,
            alarms_by_priority={
                "p1": site.alarms_p1,
                "p2": site.alarms_p2,
                "p3": site.alarms_p3,
                "p4": site.alarms_p4,
            },
            last_data_at=site.last_data_at,
        )


class StringOut(BaseModel):
    """A string (rack) of modules in series with its own contactors."""

    string: int
    name: str
    modules: int
    max_charge_a: float
    max_discharge_a: float
    capacity_ah: float


class ModuleOut(BaseModel):
    """A module: its place, make-up and identity."""

    module_id: int
    string: int
    position: int
    serial: str | None
    cell_count: int
    temp_count: int
    chemistry: str
    capacity_ah: float
    firmware: str | None


class StringLatest(BaseModel):
    """A string's last reported state."""

    string: int
    name: str
    ts: datetime | None
    voltage_v: float | None
    current_a: float | None = Field(description=STRING_RAW["current_a"].description)
    power_kw: float | None = Field(description=STRING_RAW["power_kw"].description)
    soc_pct: float | None
    contactor_closed: bool | None
    charge_limit_a: float | None
    discharge_limit_a: float | None
    insulation_kohm: float | None
    disable_reason: int | None
    fault_bits: int | None
    max_charge_a: float
    max_discharge_a: float


class ModuleLatest(BaseModel):
    """A module's last reported state."""

    string: int
    position: int
    module_id: int
    ts: datetime | None
    soc_pct: float | None
    soh_pct: float | None
    cell_v_min: float | None
    cell_v_max: float | None
    cell_v_avg: float | None
    spread_mv: float | None
    temp_c_max: float | None
    fault_bits: int | None
    balancing: int | None
    quality: int | None


class SystemLatest(BaseModel):
    """The system's last reported pack-level state (the BMS master's values)."""

    ts: datetime
    soc_pct: float | None
    soh_pct: float | None
    voltage_v: float | None
    current_a: float | None = Field(description=SYSTEM_RAW["current_a"].description)
    power_kw: float | None = Field(description=SYSTEM_RAW["power_kw"].description)
    charge_limit_a: float | None = Field(description="a magnitude")
    discharge_limit_a: float | None = Field(description="a magnitude")
    charge_limit_kw: float | None = Field(description="a magnitude")
    discharge_limit_kw: float | None = Field(description="a magnitude")
    quality: int


class LatestOut(BaseModel):
    """A site's latest state as one snapshot (not paged, so it stays consistent)."""

    site: SiteOut
    system: SystemLatest | None = Field(
        default=None, description="pack-level values; null when the site never sent any"
    )
    strings: list[StringLatest]
    modules: list[ModuleLatest]


class AlarmOut(BaseModel):
    """An alarm with its ISA-18.2 state and where it comes from."""

    id: int
    site: str
    string: int | None
    module: int | None
    cell: int | None = Field(description="counted from 1")
    code: str
    title: str
    priority: int
    state: str
    message: str
    value: float | None
    threshold: float | None
    raised_at: datetime
    last_raised_at: datetime
    occurrences: int
    acked_at: datetime | None
    acked_by: str | None
    ack_note: str | None
    cleared_at: datetime | None
    shelved_until: datetime | None

    @classmethod
    def of(cls, a: AlarmView) -> "AlarmOut":
        """From the alarm list the screens use."""
        return cls(
            id=a.id,
            site=a.site_code,
            string=a.string,
            module=a.module,
            cell=None if a.cell_index is None else a.cell_index + 1,
            code=a.code,
            title=a.fault.title,
            priority=a.priority,
            state=a.state,
            message=a.message,
            value=a.value,
            threshold=a.threshold,
            raised_at=a.raised_at,
            last_raised_at=a.last_raised_at,
            occurrences=a.occurrences,
            acked_at=a.acked_at,
            acked_by=a.acked_by,
            ack_note=a.ack_note,
            cleared_at=a.cleared_at,
            shelved_until=a.shelved_until,
        )


class IsolationOut(BaseModel):
    """A string or module taken out of service, with onset and contactor-feedback times."""

    id: int
    string: int
    module: int | None
    module_id: int | None
    reason: str
    isolated_by: str
    fault_code: str | None
    onset_at: datetime
    isolated_at: datetime | None
    returned_at: datetime | None
    time_to_isolate_s: float | None
    note: str | None

    @classmethod
    def of(cls, i: IsolationView) -> "IsolationOut":
        """From the isolation list the screens use."""
        return cls(**asdict(i), time_to_isolate_s=i.time_to_isolate_s)


class Acknowledgement(BaseModel):
    """An acknowledgement's note."""

    note: str = Field(default="", max_length=500)


TelemetryValue = float | int | list[float | None] | None


class TelemetryRow(BaseModel):
    """One sample (or bucket) of one string, module or the system: the chosen fields' values."""

    ts: datetime
    string: int | None = Field(description="string number; null for a system row")
    module: int | None = Field(description="module position; null for a string's own row")
    values: dict[str, TelemetryValue]
