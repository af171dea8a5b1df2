"""Site configuration (the file that creates a site's strings and modules) and read models."""

from datetime import datetime
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

Positive = Annotated[float, Field(gt=0)]


class SiteConfig(BaseModel):
    """One site's nameplate and topology: N strings of M modules of C cells."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "UTC"
    chemistry: str = "LFP"
    nameplate_power_kw: Positive
    nameplate_energy_kwh: Positive
    racks: int = Field(ge=1, le=64)
    modules_per_rack: int = Field(ge=1, le=32)
    cells_per_module: int = Field(ge=1, le=64)
    temps_per_module: int = Field(ge=0, le=16)
    module_capacity_ah: Positive
    rack_max_charge_a: Positive
    rack_max_discharge_a: Positive

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class FleetConfig(BaseModel):
    """A file of site configurations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: list[SiteConfig] = Field(min_length=1)


class SiteSummary(BaseModel):
    """One row of the fleet overview."""

    id: int
    code: str
    name: str
    timezone: str
    nameplate_power_kw: float
    nameplate_energy_kwh: float
    rack_count: int
    module_count: int
    last_data_at: datetime | None
