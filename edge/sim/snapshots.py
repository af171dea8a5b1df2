"""The simulated BMS's readings in the telemetry model's terms, without CAN frames.

The backfill generates weeks of history; packing and unpacking millions of frames would take
longer than the rest of it together. These functions give the values the reference BMS's frames
carry, at the same resolution, as the edge's own snapshots (a test holds them to the frames).
"""

from edge.can.assemble import Snapshot
from edge.sim.plant import SimModule, SimString

STATUS_VALID = 0b11  # MOD_FLAGS.ModStatus: the BMU's readings are valid and it is running


def module_cells(module: SimModule) -> tuple[float, ...]:
    """Cell voltages as the BMU reports them (mV resolution)."""
    return tuple(round(min(8.191, max(0.0, c.voltage)), 3) for c in module.cells)


def module_temps(module: SimModule) -> tuple[float, ...]:
    """Temperature sensor readings as the BMU reports them (0.1 K resolution)."""
    return tuple(round(t + module.temp_offset_c, 1) for t in module.temps)


def module_snapshot(ts: float, string: SimString, module: SimModule) -> Snapshot:
    """One module's sample at `ts`."""
    cells = module.cells
    values = {
        "soc_pct": round(sum(c.soc for c in cells) / len(cells) * 100, 1),
        "soh_pct": round(module.soh * 100, 1),
        "voltage_v": round(sum(c.voltage for c in cells), 2),
        "current_a": 0.0 if module.bypassed else round(string.current_a, 1),
        "bypassed": float(module.bypassed),
        "balancing": float(sum(1 << i for i, c in enumerate(cells) if c.bleeding)),
        "fault_bits": float(module.faults),
        "status_bits": float(STATUS_VALID),
    }
    return Snapshot(
        ts, string.index, module.position, values, module_cells(module), module_temps(module), 0
    )


def string_values(string: SimString) -> dict[str, float]:
    """One string's readings, as its status, limit, energy and fault frames carry them."""
    connected = sum(1 for m in string.modules if not m.bypassed)
    return {
        "voltage_v": round(string.voltage(), 1),
        "current_a": round(string.current_a, 1),
        "soc_pct": round(string.soc() * 100, 1),
        "soh_pct": round(min(m.soh for m in string.modules) * 100, 1),
        "contactor_closed": float(string.contactor_closed),
        "contactor_fault": float(string.contactor_stuck),
        "enabled": float(string.enabled),
        "disable_reason": float(string.dis_reason),
        "charge_limit_a": round(string.charge_limit_a, 1),
        "discharge_limit_a": round(string.discharge_limit_a, 1),
        "insulation_kohm": float(round(string.insulation_kohm)),
        "n_mod_connected": float(connected),
        "n_mod_bypassed": float(len(string.modules) - connected),
        "energy_charged_kwh": round(string.energy_in_kwh, 1),
        "energy_discharged_kwh": round(string.energy_out_kwh, 1),
        "fault_bits": float(string.faults),
    }


def string_snapshot(ts: float, string: SimString) -> Snapshot:
    """One string's sample at `ts`."""
    return Snapshot(ts, string.index, 0, string_values(string), (), (), 0)
