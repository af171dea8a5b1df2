"""The simulated plant: strings of modules of LFP cells, stepped in (possibly accelerated) time."""

import random
from dataclasses import dataclass, field

from edge.sim import lfp

CELL_R_OHM = 0.00025  # internal resistance of a 280 Ah-class LFP cell
BLEED_A = 0.2  # passive balancing resistor current
# The BMS bleeds cells whose estimated SoC leads the module's lowest by more than this: on LFP's
# flat plateau their voltages hardly differ, so a voltage window would never open below full.
BALANCE_WINDOW_SOC = 0.01
BALANCE_MIN_SOC = 0.80  # passive balancing runs near the top of the daily charge
THERMAL_TAU_S = 900.0  # module temperature time constant
HEATING_C_AT_RATED = 8.0  # steady-state rise above ambient at rated current
SOH_FADE_PER_CYCLE = 0.20 / 6000  # 80 % SoH after about 6,000 full cycles
INSULATION_HEALTHY_KOHM = 5000.0


@dataclass(slots=True)
class Cell:
    """One cell: capacity and resistance vary from cell to cell, which makes spread grow."""

    capacity_ah: float
    r_ohm: float
    soc: float
    voltage: float = 0.0  # as its sensor reads it
    bleeding: bool = False
    fault_offset_v: float = 0.0  # injected sensor-visible deviation

    @property
    def terminal_v(self) -> float:
        """The voltage energy flows at: the reading without an injected sensor deviation."""
        return self.voltage - self.fault_offset_v


@dataclass(slots=True)
class SimModule:
    """A module: its cells in series, temperature sensors, state of health."""

    position: int
    cells: list[Cell]
    temps: list[float]
    soh: float
    bypassed: bool = False
    comms_ok: bool = True
    temp_offset_c: float = 0.0
    extra_heat_c: float = 0.0  # injected cooling failure: steady-state rise it adds
    faults: int = 0  # fault word as sent in MOD_FLAGS
    alive: int = 0


@dataclass(slots=True)
class SimString:
    """A string (rack): modules in series behind one set of contactors."""

    index: int
    modules: list[SimModule]
    rated_a: float
    contactor_closed: bool = True
    enabled: bool = True
    dis_reason: int = 0
    contactor_stuck: bool = False  # injected contactor failure: it no longer closes
    charge_limit_a: float = 0.0
    discharge_limit_a: float = 0.0
    derate_revert_at: float | None = None
    insulation_kohm: float = INSULATION_HEALTHY_KOHM
    current_a: float = 0.0  # positive discharges, negative charges (SunSpec's sign)
    energy_in_kwh: float = 0.0
    energy_out_kwh: float = 0.0
    faults: int = 0
    heartbeat: int = 0
    balancing_enabled: bool = True

    def active_modules(self) -> list[SimModule]:
        """Modules carrying current (not bypassed)."""
        return [m for m in self.modules if not m.bypassed]

    def voltage(self) -> float:
        """String voltage: the sum of the active modules' cell voltages."""
        return sum(c.voltage for m in self.active_modules() for c in m.cells)

    def cell_voltages(self) -> list[float]:
        """Every active cell voltage in the string."""
        return [c.voltage for m in self.active_modules() for c in m.cells]

    def soc(self) -> float:
        """Mean state of charge (0..1) of the active cells."""
        cells = [c.soc for m in self.active_modules() for c in m.cells]
        return sum(cells) / len(cells) if cells else 0.0

    def stored_kwh(self) -> float:
        """Energy held in every cell of the string, bypassed modules too (ground truth)."""
        cells = (c for m in self.modules for c in m.cells)
        return sum(c.capacity_ah * lfp.stored_wh_per_ah(c.soc) for c in cells) / 1000


@dataclass(frozen=True)
class PlantSpec:
    """Topology and nameplate of the simulated site."""

    strings: int
    modules_per_string: int
    cells_per_module: int
    temps_per_module: int
    capacity_ah: float
    string_rated_a: float
    energy_kwh: float
    power_kw: float
    initial_soc: float = 0.55
    ambient_c: float = 22.0


@dataclass
class Plant:
    """The whole site: strings in parallel on one DC bus, following a power set-point."""

    spec: PlantSpec
    strings: list[SimString] = field(default_factory=list)

    @classmethod
    def build(cls, spec: PlantSpec, seed: int) -> "Plant":
        """A plant with reproducible cell-to-cell spread drawn from `seed`."""
        rnd = random.Random(seed)
        plant = cls(spec)
        for s in range(1, spec.strings + 1):
            modules = [_module(spec, rnd, p) for p in range(1, spec.modules_per_string + 1)]
            string = SimString(
                s,
                modules,
                spec.string_rated_a,
                charge_limit_a=spec.string_rated_a,
                discharge_limit_a=spec.string_rated_a,
            )
            plant.strings.append(string)
        plant.step(0.0, 0.0, now=0.0)
        return plant

    def connected(self) -> list[SimString]:
        """Strings whose contactors are closed."""
        return [s for s in self.strings if s.contactor_closed]

    def soc(self) -> float:
        """The site's state of charge (0..1) as its controller sees it: the connected strings'."""
        strings = self.connected() or self.strings
        return sum(s.soc() for s in strings) / len(strings)

    def step(self, dt: float, setpoint_kw: float, *, now: float) -> None:
        """Advance `dt` simulated seconds with the site asked for `setpoint_kw` (+ discharges)."""
        shares = _shares(self.connected(), discharging=setpoint_kw > 0)
        for string in self.strings:
            if string.derate_revert_at is not None and now >= string.derate_revert_at:
                string.charge_limit_a = string.discharge_limit_a = string.rated_a
                string.derate_revert_at = None
            share_kw = setpoint_kw * shares.get(string.index, 0.0)
            current = _string_current(string, share_kw) if string.contactor_closed else 0.0
            current = _within_cells(string, current, dt)
            string.current_a = current
            for module in string.modules:
                _step_module(
                    module,
                    0.0 if module.bypassed else current,
                    dt,
                    self.spec,
                    balancing=string.balancing_enabled,
                )
            _count_energy(string, dt)


def _module(spec: PlantSpec, rnd: random.Random, position: int) -> SimModule:
    soh = rnd.uniform(0.96, 0.995)
    cells = [
        Cell(
            capacity_ah=spec.capacity_ah * soh * rnd.gauss(1.0, 0.012),
            r_ohm=CELL_R_OHM * rnd.gauss(1.0, 0.1),
            soc=min(0.99, max(0.01, spec.initial_soc + rnd.gauss(0.0, 0.008))),
        )
        for _ in range(spec.cells_per_module)
    ]
    temps = [spec.ambient_c + rnd.uniform(-0.5, 0.5) for _ in range(spec.temps_per_module)]
    return SimModule(position, cells, temps, soh)


def _shares(connected: list[SimString], *, discharging: bool) -> dict[int, float]:
    """Each connected string's share of the site's power, by the energy it has to give (or room
    to take): strings in parallel on one DC bus, the fuller one carrying more of a discharge.
    An equal split would drain a string returned to service at a lower SoC to empty."""
    weights = {s.index: s.soc() if discharging else 1.0 - s.soc() for s in connected}
    total = sum(weights.values())
    if total <= 0:
        return {index: 1.0 / len(weights) for index in weights}
    return {index: weight / total for index, weight in weights.items()}


def _string_current(string: SimString, share_kw: float) -> float:
    """The string's current for its share of the set-point: positive discharges."""
    voltage = max(string.voltage(), 1.0)
    current = share_kw * 1000.0 / voltage
    current = min(current, string.discharge_limit_a) if current > 0 else current
    current = max(current, -string.charge_limit_a) if current < 0 else current
    cells = string.cell_voltages()
    if not cells:
        return current
    # The BMS tapers charge near full and discharge near empty, to zero before any warning.
    if current > 0:
        return current * _share(min(cells), lfp.DISCHARGE_END_V, lfp.DISCHARGE_TAPER_FROM_V)
    return current * _share(max(cells), lfp.CHARGE_END_V, lfp.CHARGE_TAPER_FROM_V)


def _share(volts: float, none_at: float, full_at: float) -> float:
    """The share of current allowed at a cell voltage: 0 at `none_at`, 1 from `full_at` on."""
    return min(1.0, max(0.0, (volts - none_at) / (full_at - none_at)))


def _charging_a(current: float) -> float:
    """Amperes into the cells for a string current (positive discharges: SunSpec's sign).

    The state of charge, the terminal voltage and the energy counters all read the direction
    here, so they cannot disagree about which way the energy went.
    """
    return -current


def _within_cells(string: SimString, current: float, dt: float) -> float:
    """The current, held back so that no cell is charged past full or drawn below empty within
    the step: the string cannot carry more than its fullest (or emptiest) cell takes, and a
    cell clamped at full or empty would count energy that was never stored or drawn."""
    into = _charging_a(current)
    cells = [c for m in string.active_modules() for c in m.cells]
    if dt <= 0 or into == 0 or not cells:
        return current
    room = [(1.0 - c.soc if into > 0 else c.soc) * c.capacity_ah * 3600.0 / dt for c in cells]
    return current * min(1.0, max(0.0, min(room)) / abs(into))


def _step_module(
    module: SimModule, current: float, dt: float, spec: PlantSpec, *, balancing: bool
) -> None:
    """Coulomb-count and heat a module carrying `current` (positive discharges)."""
    into = _charging_a(current)
    leading = min(c.soc for c in module.cells) + BALANCE_WINDOW_SOC
    bleed = balancing and into >= 0
    for cell in module.cells:
        cell.bleeding = bleed and cell.soc > BALANCE_MIN_SOC and cell.soc > leading
        net = into - (BLEED_A if cell.bleeding else 0.0)
        cell.soc = min(1.0, max(0.0, cell.soc + net * dt / 3600.0 / cell.capacity_ah))
        cell.voltage = lfp.ocv(cell.soc) + into * cell.r_ohm + cell.fault_offset_v
    load = abs(current) / spec.string_rated_a
    target = spec.ambient_c + HEATING_C_AT_RATED * load * load + module.extra_heat_c
    alpha = min(1.0, dt / THERMAL_TAU_S)
    module.temps = [t + (target - t) * alpha for t in module.temps]
    module.soh -= abs(current) * dt / 3600.0 / spec.capacity_ah / 2 * SOH_FADE_PER_CYCLE


def _count_energy(string: SimString, dt: float) -> None:
    """Add the step's energy to the lifetime counters, at the cells' terminal voltage.

    The voltage is the one at the end of the step, which on the monotonic OCV curve is at least
    the step's mean when charging and at most it when discharging: the counters never show
    less going in, or more coming out, than the cells stored or gave up. An injected sensor
    deviation changes what the BMS reads, not the energy that flows.
    """
    volts = sum(c.terminal_v for m in string.active_modules() for c in m.cells)
    into = _charging_a(string.current_a)
    energy_kwh = volts * abs(into) * dt / 3_600_000.0
    if into > 0:
        string.energy_in_kwh += energy_kwh
    else:
        string.energy_out_kwh += energy_kwh
