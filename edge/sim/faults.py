"""Fault injection into the simulated plant: applying and repairing a fault (see fault_spec.py
for how one is written)."""

from edge.sim.fault_spec import Fault, FaultKind
from edge.sim.plant import INSULATION_HEALTHY_KOHM, Plant

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
