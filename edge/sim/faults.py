"""Fault injection, from the command line (`--fault cell_ov:string=1,module=3,at=30`) or tests."""

from dataclasses import dataclass
from enum import StrEnum

from edge.sim.plant import INSULATION_HEALTHY_KOHM, Plant


class FaultKind(StrEnum):
    """Faults the simulator can inject."""

    CELL_OV = "cell_ov"
    CELL_UV = "cell_uv"
    OVER_TEMP = "over_temp"
    INSULATION_DROP = "insulation_drop"
    COMMS_LOSS = "comms_loss"
    CONTACTOR_FAILURE = "contactor_failure"
    # A module's cooling stops: it warms towards ambient + size with its thermal time constant,
    # so the warning comes before the alarm (unlike over_temp, a sensor reading that jumps).
    COOLING_FAILURE = "cooling_failure"


@dataclass(frozen=True)
class Fault:
    """One fault at one place, starting `at` seconds after the simulator starts."""

    kind: FaultKind
    string: int = 1
    module: int = 1
    cell: int = 1
    at: float = 0.0
    size: float | None = None  # volts, kelvin or kOhm, depending on the kind

    @classmethod
    def parse(cls, text: str) -> "Fault":
        """Parse 'kind[:key=value,...]'; raises ValueError naming the bad part."""
        kind_text, _, rest = text.partition(":")
        try:
            kind = FaultKind(kind_text)
        except ValueError:
            choices = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"unknown fault {kind_text!r} (choose from {choices})") from None
        params: dict[str, float] = {}
        for item in filter(None, rest.split(",")):
            key, sep, value = item.partition("=")
            if not sep or key not in {"string", "module", "cell", "at", "size"}:
                raise ValueError(
                    f"fault parameter {item!r}: use string=, module=, cell=, at=, size="
                )
            params[key] = float(value)
        ints = {k: int(v) for k, v in params.items() if k in {"string", "module", "cell"}}
        return cls(kind, at=params.get("at", 0.0), size=params.get("size"), **ints)


DEFAULT_SIZE = {
    FaultKind.CELL_OV: 0.30,  # V added to the cell reading
    FaultKind.CELL_UV: -0.70,
    FaultKind.OVER_TEMP: 35.0,  # K added to the module's sensors
    FaultKind.INSULATION_DROP: 300.0,  # kOhm the insulation falls to
    FaultKind.COOLING_FAILURE: 40.0,  # K of heating the module no longer sheds
}


def apply_fault(plant: Plant, fault: Fault) -> None:
    """Make the fault happen in the plant; raises ValueError for a place that does not exist."""
    strings = {s.index: s for s in plant.strings}
    if fault.string not in strings:
        raise ValueError(f"fault {fault.kind}: no string {fault.string}")
    string = strings[fault.string]
    if fault.kind is FaultKind.INSULATION_DROP:
        string.insulation_kohm = fault.size or DEFAULT_SIZE[fault.kind]
        return
    if fault.kind is FaultKind.CONTACTOR_FAILURE:
        string.contactor_stuck = True
        string.contactor_closed = False
        return
    modules = {m.position: m for m in string.modules}
    if fault.module not in modules:
        raise ValueError(f"fault {fault.kind}: no module {fault.module} in string {fault.string}")
    module = modules[fault.module]
    size = fault.size if fault.size is not None else DEFAULT_SIZE.get(fault.kind, 0.0)
    if fault.kind is FaultKind.COMMS_LOSS:
        module.comms_ok = False
    elif fault.kind is FaultKind.OVER_TEMP:
        module.temp_offset_c = size
    elif fault.kind is FaultKind.COOLING_FAILURE:
        module.extra_heat_c = size
    else:
        if not 1 <= fault.cell <= len(module.cells):
            raise ValueError(f"fault {fault.kind}: no cell {fault.cell} in module {fault.module}")
        module.cells[fault.cell - 1].fault_offset_v = size


def clear_fault(plant: Plant, fault: Fault) -> None:
    """Undo a fault: the place behaves normally again (latched BMS bits need an alarm reset)."""
    string = next(s for s in plant.strings if s.index == fault.string)
    module = next(m for m in string.modules if m.position == fault.module)
    if fault.kind is FaultKind.INSULATION_DROP:
        string.insulation_kohm = INSULATION_HEALTHY_KOHM
    elif fault.kind is FaultKind.CONTACTOR_FAILURE:
        string.contactor_stuck = False
    elif fault.kind is FaultKind.COMMS_LOSS:
        module.comms_ok = True
    elif fault.kind is FaultKind.OVER_TEMP:
        module.temp_offset_c = 0.0
    elif fault.kind is FaultKind.COOLING_FAILURE:
        module.extra_heat_c = 0.0
    else:
        module.cells[fault.cell - 1].fault_offset_v = 0.0
