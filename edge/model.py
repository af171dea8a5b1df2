"""The telemetry model the mapping binds signals to: targets, fields and their units."""

from dataclasses import dataclass
from enum import StrEnum


class Target(StrEnum):
    """What a frame describes."""

    MODULE = "module"
    STRING = "string"
    SYSTEM = "system"  # the whole battery: the BMS master's pack values, one per site
    ACK = "ack"


class Kind(StrEnum):
    """How a field's value is interpreted."""

    MEASURE = "measure"  # a physical quantity with a unit
    BITS = "bits"  # an integer bitmask
    FLAG = "flag"  # 0 or 1
    COUNT = "count"  # a dimensionless integer


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the telemetry model."""

    unit: str
    kind: Kind
    low: float
    high: float
    array_size: int = 0  # > 0 for per-cell / per-sensor arrays (the largest index allowed)
    # A flow whose sign tells its direction. The model's convention is SunSpec's: positive is
    # discharge (out of the battery), negative is charge; mappings say which way their BMS counts.
    directed: bool = False


def _m(unit: str, low: float, high: float, size: int = 0) -> FieldSpec:
    return FieldSpec(unit, Kind.MEASURE, low, high, size)


CURRENT = FieldSpec("A", Kind.MEASURE, -5000, 5000, directed=True)
# The whole system carries the sum of its strings' currents.
SYSTEM_CURRENT = FieldSpec("A", Kind.MEASURE, -50000, 50000, directed=True)
SYSTEM_POWER = FieldSpec("kW", Kind.MEASURE, -100000, 100000, directed=True)


BITS32 = FieldSpec("", Kind.BITS, 0, 2**32 - 1)
BITS64 = FieldSpec("", Kind.BITS, 0, 2**64 - 1)
FLAG = FieldSpec("", Kind.FLAG, 0, 1)


def _count(high: int) -> FieldSpec:
    return FieldSpec("", Kind.COUNT, 0, high)


# Plausibility limits are wider than any alarm threshold: a value outside them is a bad reading.
FIELDS: dict[Target, dict[str, FieldSpec]] = {
    Target.MODULE: {
        "soc_pct": _m("%", 0, 100),
        "soh_pct": _m("%", 0, 100),
        "voltage_v": _m("V", 0, 1500),
        "current_a": CURRENT,
        "cell_v": _m("V", 0, 5, 64),
        "temp_c": _m("degC", -40, 125, 16),
        "balancing": BITS64,
        "fault_bits": BITS64,
        "status_bits": BITS32,
        "bypassed": FLAG,
        "alive": _count(255),
    },
    Target.STRING: {
        "voltage_v": _m("V", 0, 2000),
        "current_a": CURRENT,
        "soc_pct": _m("%", 0, 100),
        "soh_pct": _m("%", 0, 100),
        "contactor_closed": FLAG,
        "contactor_fault": FLAG,
        "enabled": FLAG,
        "disable_reason": _count(4),
        "heartbeat": _count(2**16 - 1),
        "charge_limit_a": _m("A", 0, 10000),
        "discharge_limit_a": _m("A", 0, 10000),
        "insulation_kohm": _m("kOhm", 0, 1e6),
        "n_mod_connected": _count(64),
        "n_mod_bypassed": _count(64),
        "energy_charged_kwh": _m("kWh", 0, 1e10),
        "energy_discharged_kwh": _m("kWh", 0, 1e10),
        "fault_bits": BITS64,
    },
    Target.SYSTEM: {
        "soc_pct": _m("%", 0, 100),
        "soh_pct": _m("%", 0, 100),
        "voltage_v": _m("V", 0, 2000),
        "current_a": SYSTEM_CURRENT,
        "power_kw": SYSTEM_POWER,
        "charge_limit_a": _m("A", 0, 50000),
        "discharge_limit_a": _m("A", 0, 50000),
        "charge_limit_kw": _m("kW", 0, 100000),
        "discharge_limit_kw": _m("kW", 0, 100000),
    },
    Target.ACK: {
        "command_id": _count(2**32 - 1),
        "result": _count(255),
        "opcode": _count(255),
    },
}

# Unit spellings that mean the same thing, and conversions to a field's canonical unit.
UNIT_ALIASES = {
    "°C": "degC",
    "C": "degC",
    "degc": "degC",
    "kohm": "kOhm",
    "kΩ": "kOhm",
    "Ohm": "Ohm",
    "Ω": "Ohm",
    "MΩ": "MOhm",
    "pct": "%",
}
UNIT_FACTORS: dict[tuple[str, str], float] = {
    ("mV", "V"): 0.001,
    ("kV", "V"): 1000.0,
    ("mA", "A"): 0.001,
    ("Ohm", "kOhm"): 0.001,
    ("MOhm", "kOhm"): 1000.0,
    ("Wh", "kWh"): 0.001,
    ("MWh", "kWh"): 1000.0,
    ("W", "kW"): 0.001,
    ("MW", "kW"): 1000.0,
}


def canonical_unit(unit: str | None) -> str:
    """A unit spelled the way the model spells it."""
    unit = (unit or "").strip()
    return UNIT_ALIASES.get(unit, unit)


def unit_factor(source: str, target: str) -> float | None:
    """The factor that converts `source` units into `target` units, or None if unknown."""
    if source == target:
        return 1.0
    return UNIT_FACTORS.get((source, target))
