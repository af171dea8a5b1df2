"""Every value of a string sample and of a system sample, described once.

The wire rows (both decoders), the storage rows and their binary COPY types, the ORM columns,
the latest-state queries, the API's latest models and the export catalogues are all derived
from STRING_MEASURES and SYSTEM_MEASURES. A new value is one line here plus a migration that
adds its column to the sample and latest tables (tests/telemetry/test_field_table.py shows it).
"""

from dataclasses import dataclass
from typing import Literal

from app.telemetry.sign import CONVENTION

PgType = Literal["bool", "int2", "int4", "int8", "float4", "float8"]
PYTHON_TYPES: dict[PgType, type[bool] | type[int] | type[float]] = {
    "bool": bool,
    "int2": int,
    "int4": int,
    "int8": int,
    "float4": float,
    "float8": float,
}
BITS_MAX = 2**63 - 1


@dataclass(frozen=True)
class Measure:
    """One stored value: its column, COPY type, accepted range, unit and where it shows."""

    name: str
    pg_type: PgType
    low: float | None = None  # None: no range (flags)
    high: float | None = None
    unit: str = ""
    about: str = ""  # what it means, where the name does not say it all
    default: int | None = None  # stored when the edge leaves it out
    wire: bool = True  # False: computed by the backend from other values
    latest: bool = True  # part of a string's latest state (pages and /latest)
    export: bool = True  # offered by telemetry exports

    @property
    def python_type(self) -> type[bool] | type[int] | type[float]:
        """The Python type of its values."""
        return PYTHON_TYPES[self.pg_type]

    @property
    def description(self) -> str:
        """Its meaning for API docs and export catalogues."""
        return f"{self.about}; {CONVENTION}" if self.signed_flow else self.about

    @property
    def signed_flow(self) -> bool:
        """Whether it is a current or power whose sign says which way it flows."""
        return self.unit in {"A", "kW"} and self.low is not None and self.low < 0


# Storage order (after rack_id, ts); export catalogues follow it too.
STRING_MEASURES: tuple[Measure, ...] = (
    Measure("voltage_v", "float4", 0, 2000, "V"),
    Measure("current_a", "float4", -5000, 5000, "A", "string current"),
    Measure(
        "power_kw", "float4", -1e7, 1e7, "kW", "string power, voltage times current", wire=False
    ),
    Measure("soc_pct", "float4", 0, 100, "%"),
    Measure("soh_pct", "float4", 0, 100, "%", latest=False),
    Measure("contactor_closed", "bool"),
    # The derate state: the charge/discharge current limits the string enforces now.
    Measure("charge_limit_a", "float4", 0, 10000, "A"),
    Measure("discharge_limit_a", "float4", 0, 10000, "A"),
    Measure("insulation_kohm", "float4", 0, 1e6, "kΩ"),
    Measure("cell_v_min", "float4", 0, 5, "V", wire=False, latest=False),
    Measure("cell_v_max", "float4", 0, 5, "V", wire=False, latest=False),
    Measure("energy_charged_kwh", "float8", 0, 1e12, "kWh", latest=False),
    Measure("energy_discharged_kwh", "float8", 0, 1e12, "kWh", latest=False),
    Measure("n_mod_connected", "int2", 0, 64, latest=False, export=False),
    Measure("n_mod_bypassed", "int2", 0, 64, latest=False, export=False),
    # SunSpec StrDisRsn when the string is disabled: 1 fault, 2 maintenance, 3 external, 4 other.
    Measure("disable_reason", "int2", 0, 4, export=False),
    Measure("fault_bits", "int8", 0, BITS_MAX, default=0, export=False),
    # Bit 0 contactor fault, bit 1 enabled (from the wire's flags of the same names).
    Measure("status_bits", "int4", 0, 3, default=0, wire=False, latest=False, export=False),
    Measure("quality", "int2", 0, 2**15 - 1, default=0, latest=False, export=False),
)

# The whole system as the BMS master reports it (one per site); limits are magnitudes.
SYSTEM_MEASURES: tuple[Measure, ...] = (
    Measure("soc_pct", "float4", 0, 100, "%"),
    Measure("soh_pct", "float4", 0, 100, "%"),
    Measure("voltage_v", "float4", 0, 2000, "V"),
    Measure("current_a", "float4", -50000, 50000, "A", "system current"),
    Measure("power_kw", "float4", -1e5, 1e5, "kW", "system power, as the BMS reports it or V x I"),
    Measure("charge_limit_a", "float4", 0, 50000, "A", "a magnitude"),
    Measure("discharge_limit_a", "float4", 0, 50000, "A", "a magnitude"),
    Measure("charge_limit_kw", "float4", 0, 1e5, "kW", "a magnitude"),
    Measure("discharge_limit_kw", "float4", 0, 1e5, "kW", "a magnitude"),
    Measure("quality", "int2", 0, 2**15 - 1, default=0, export=False),
)
