"""Cell ageing: chosen cells leak, lose capacity or gain resistance from a chosen day on.

Each ageing grows linearly with the days since its onset (a micro-short widens, a damaged cell
keeps fading), so a watch list has something to find weeks before the BMS's warning levels.
Parsed from the command line (`--age leakage:string=1,module=2,cell=3,from_day=5,rate=5`) or
built by tests; `AgeingPlan.apply` sets the plant's cells for a simulated day.
"""

from dataclasses import dataclass, field

from edge.sim.ageing_spec import MIN_CAPACITY_FACTOR, Ageing, AgeingKind
from edge.sim.plant import Cell, Plant


def leakage_a(ageings: list[Ageing], day: float) -> float:
    """The self-discharge current (A) the ageings give a cell on `day`."""
    kind = AgeingKind.LEAKAGE
    return sum(a.rate * a.days_aged(day) for a in ageings if a.kind is kind) / 1000.0


def capacity_factor(ageings: list[Ageing], day: float) -> float:
    """The share of its original capacity a cell keeps on `day`."""
    lost = sum(a.rate * a.days_aged(day) for a in ageings if a.kind is AgeingKind.CAPACITY)
    return max(MIN_CAPACITY_FACTOR, 1.0 - lost / 100.0)


def resistance_factor(ageings: list[Ageing], day: float) -> float:
    """A cell's internal resistance on `day` as a multiple of its original."""
    kind = AgeingKind.RESISTANCE
    return 1.0 + sum(a.rate * a.days_aged(day) for a in ageings if a.kind is kind) / 100.0


Place = tuple[int, int, int]  # (string, module, cell), all 1-based


@dataclass
class AgeingPlan:
    """The ageings of one plant, with each aged cell's original capacity and resistance."""

    ageings: list[Ageing]
    originals: dict[Place, tuple[float, float]] = field(default_factory=dict)

    def apply(self, plant: Plant, day: float) -> None:
        """Set every aged cell's capacity, resistance and leakage for simulated day `day`."""
        by_place: dict[Place, list[Ageing]] = {}
        for ageing in self.ageings:
            by_place.setdefault((ageing.string, ageing.module, ageing.cell), []).append(ageing)
        for place, ageings in by_place.items():
            cell = _cell(plant, place)
            capacity, resistance = self.originals.setdefault(place, (cell.capacity_ah, cell.r_ohm))
            cell.capacity_ah = capacity * capacity_factor(ageings, day)
            cell.r_ohm = resistance * resistance_factor(ageings, day)
            cell.leak_a = leakage_a(ageings, day)


def _cell(plant: Plant, place: Place) -> Cell:
    """The cell at a place; ValueError names a place that does not exist."""
    string_no, module_no, cell_no = place
    strings = {s.index: s for s in plant.strings}
    if string_no not in strings:
        raise ValueError(f"ageing: no string {string_no}")
    modules = {m.position: m for m in strings[string_no].modules}
    if module_no not in modules:
        raise ValueError(f"ageing: no module {module_no} in string {string_no}")
    cells = modules[module_no].cells
    if not 1 <= cell_no <= len(cells):
        raise ValueError(f"ageing: no cell {cell_no} in module {module_no}")
    return cells[cell_no - 1]
