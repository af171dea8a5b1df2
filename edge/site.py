"""The edge's site file: topology, protocol, CAN buses, collector and simulator settings."""

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.sim.ageing_spec import Ageing
from edge.sim.fault_spec import Fault


class SiteInfo(BaseModel):
    """The site this edge serves and its topology (must match the backend's registry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    strings: int = Field(ge=1, le=31)
    modules_per_string: int = Field(ge=1, le=32)
    cells_per_module: int = Field(ge=1, le=32)
    temps_per_module: int = Field(ge=0, le=16)
    module_capacity_ah: float = Field(gt=0)
    string_rated_a: float = Field(gt=0)
    nameplate_power_kw: float = Field(gt=0)
    nameplate_energy_kwh: float = Field(gt=0)


class BusConfig(BaseModel):
    """One CAN bus, opened with can.Bus(interface=..., channel=..., **options)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interface: str
    channel: str
    bitrate: int = 500_000
    options: dict[str, Any] = Field(default_factory=dict)


class CollectorConfig(BaseModel):
    """Aggregation and comms-loss settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period_s: float = Field(default=1.0, gt=0, le=60)
    comms_timeout_s: float = Field(default=3.0, gt=0)
    spool_max_mb: float = Field(default=256, gt=0)
    # Batches the backend refused are kept for a re-send after a fix, the newest this many.
    dead_letters_max: int = Field(default=1000, ge=1, le=1_000_000)


class IncidentConfig(BaseModel):
    """A scripted incident that recurs: its fault is injected, then repaired, every cycle.

    Times are simulated hours from the simulator's start (at 60x, 24 h pass in 24 minutes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fault: str  # as on the command line, e.g. "cooling_failure:string=4,module=9"
    first_h: float = Field(default=0.25, ge=0)
    every_h: float = Field(default=24.0, gt=0)
    lasts_h: float = Field(default=1.0, gt=0)

    @field_validator("fault")
    @classmethod
    def _fault_parses(cls, text: str) -> str:
        Fault.parse(text)  # raises ValueError naming the bad part
        return text

    @model_validator(mode="after")
    def _over_before_the_next(self) -> Self:
        if self.lasts_h >= self.every_h:
            raise ValueError("lasts_h must be shorter than every_h: one incident at a time")
        return self


class SimulatorConfig(BaseModel):
    """The simulated BMS behind `python -m edge simulate`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 1
    acceleration: float = Field(default=1.0, gt=0, le=10_000)
    frame_period_s: float = Field(default=0.5, gt=0)
    initial_soc_pct: float = Field(default=55, ge=1, le=99)
    # The site's time zone: the daily plan's hours are local (an evening peak is the site's).
    timezone: str = "UTC"
    # A constant site set-point in kW (positive discharges, as SunSpec counts power) instead
    # of the daily schedule: for tests and benchmarks whose outcome must not depend on the time
    # of day.
    setpoint_kw: float | None = None
    # Faults to inject, as on the command line ("cell_ov:string=4,module=9,at=90"), for demos.
    faults: list[str] = Field(default_factory=list)
    incident: IncidentConfig | None = None  # the demo's recurring scripted incident
    # Cells that age in the backfilled history, from a day after its start, as on the command
    # line ("leakage:string=1,module=3,cell=5,from_day=3,rate=3"): the demo's weak cell.
    ageing: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone_known(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (an IANA name, e.g. Europe/Berlin)"
            ) from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)

    @field_validator("faults")
    @classmethod
    def _faults_parse(cls, faults: list[str]) -> list[str]:
        for text in faults:
            Fault.parse(text)  # raises ValueError naming the bad part
        return faults

    @field_validator("ageing")
    @classmethod
    def _ageing_parses(cls, ageing: list[str]) -> list[str]:
        for text in ageing:
            Ageing.parse(text)  # raises ValueError naming the bad part
        return ageing


class PolicyConfig(BaseModel):
    """The edge's local degrade-not-trip policy: which fault codes are in which tier.

    warning -> derate the affected string; alarm -> isolate the string (or bypass the module);
    safety -> trip the site. Codes are the mapping's fault names.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning: list[str] = Field(default_factory=list)
    alarm: list[str] = Field(default_factory=list)
    safety: list[str] = Field(default_factory=list)
    derate_pct: float = Field(default=50, gt=0, lt=100)
    # The BMS reverts a policy derate by itself after this, so none lingers once forgotten.
    derate_revert_s: int = Field(default=600, ge=60, le=86_400)
    isolate: Literal["string", "module"] = "string"
    # Alarm-level conditions on this many strings at once are a site-level condition: trip.
    # 0 never trips for that reason.
    trip_when_strings_in_alarm: int = Field(default=0, ge=0, le=31)

    @model_validator(mode="after")
    def _each_code_in_one_tier(self) -> Self:
        seen: dict[str, str] = {}
        for tier in ("warning", "alarm", "safety"):
            for code in getattr(self, tier):
                if code in seen:
                    raise ValueError(f"{code!r} is in both {seen[code]} and {tier}")
                seen[code] = tier
        return self


class SiteFile(BaseModel):
    """A whole site file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: SiteInfo
    mapping: Path  # relative to the site file
    bus: Annotated[list[BusConfig], Field(min_length=1)]
    collector: CollectorConfig = CollectorConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    policy: PolicyConfig | None = None  # no [policy]: the edge takes no action of its own


class SiteFileError(ValueError):
    """A site file that cannot be used, with the field named."""


def load_site_file(path: Path) -> SiteFile:
    """Parse and validate a site file; the mapping path is made absolute."""
    try:
        site = SiteFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise SiteFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SiteFileError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        )
        raise SiteFileError(f"{path}: {problems}") from exc
    return site.model_copy(update={"mapping": (path.parent / site.mapping).resolve()})
