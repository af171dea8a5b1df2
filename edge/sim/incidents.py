"""Scripted incidents: faults injected at a simulated time and repaired at a later one.

The demo's site file scripts one that recurs once per simulated day; the backfilled history
draws its own. Either way the plan only says what is due; the simulator applies it.
"""

import heapq
import random
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import count

from edge.sim.faults import Fault, FaultKind
from edge.sim.plant import PlantSpec

HOUR_S = 3600.0
DAY_S = 86_400.0
# What goes wrong in the backfilled history, and how often relative to each other: faults the
# policy isolates at alarm level, one the BMS itself trips on when the cell is already high, one
# that only reaches the warning (a derate), and a module falling silent.
HISTORY_MIX: tuple[tuple[int, FaultKind, float | None], ...] = (
    (3, FaultKind.COOLING_FAILURE, 40.0),
    (2, FaultKind.INSULATION_DROP, 300.0),
    (2, FaultKind.CELL_OV, 0.40),
    (2, FaultKind.CELL_UV, -0.45),
    (1, FaultKind.COMMS_LOSS, None),
)
HISTORY_EVERY_DAYS = 3  # each site has an incident every third day
REPAIR_MEDIAN_H = 2.0  # repairs are heavy-tailed: log-normal around this median
REPAIR_RANGE_H = (0.5, 10.0)


class Change(StrEnum):
    """What happens to an incident's fault."""

    INJECT = "inject"
    REPAIR = "repair"


@dataclass(frozen=True, slots=True)
class Incident:
    """One fault from `start_s` to `end_s`, in simulated seconds from the plan's origin."""

    fault: Fault
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Due:
    """A change that has come due, and when it was planned for."""

    change: Change
    fault: Fault
    at_s: float


def recurring(
    fault: Fault, *, first_h: float, every_h: float, lasts_h: float
) -> Iterator[Incident]:
    """The same incident over and over: first after `first_h`, then every `every_h` hours."""
    for cycle in count():
        start = (first_h + cycle * every_h) * HOUR_S
        yield Incident(fault, start, start + lasts_h * HOUR_S)


class IncidentPlan:
    """Hands out injections and repairs as simulated time passes (incidents by start time)."""

    def __init__(self, incidents: Iterable[Incident]) -> None:
        self.upcoming = iter(incidents)
        self.next: Incident | None = next(self.upcoming, None)
        self.active: list[tuple[float, int, Fault]] = []  # a heap of (end, order, fault)
        self.order = count()

    def due(self, elapsed_s: float) -> list[Due]:
        """Every change planned up to `elapsed_s`, in time order (once each)."""
        changes: list[Due] = []
        while True:
            start = self.next.start_s if self.next is not None else float("inf")
            end = self.active[0][0] if self.active else float("inf")
            if min(start, end) > elapsed_s:
                return changes
            if end <= start:
                _, _, fault = heapq.heappop(self.active)
                changes.append(Due(Change.REPAIR, fault, end))
            else:
                assert self.next is not None
                heapq.heappush(self.active, (self.next.end_s, next(self.order), self.next.fault))
                changes.append(Due(Change.INJECT, self.next.fault, start))
                self.next = next(self.upcoming, None)


def history_incidents(spec: PlantSpec, *, site: str, seed: int, days: int) -> list[Incident]:
    """A site's incidents over `days` of history, the same for the same site, seed and length.

    Which days depends on the site code, so sites differ, and none falls in the last day, so
    that everything is repaired and back in service at its end.
    """
    rnd = random.Random(f"history:{site}:{seed}")
    turn = zlib.crc32(site.encode()) % HISTORY_EVERY_DAYS
    weights = [w for w, _, _ in HISTORY_MIX]
    incidents = []
    for day in range(turn, days - 1, HISTORY_EVERY_DAYS):
        _, kind, size = rnd.choices(HISTORY_MIX, weights)[0]
        fault = Fault(
            kind,
            string=rnd.randint(1, spec.strings),
            module=rnd.randint(1, spec.modules_per_string),
            cell=rnd.randint(1, spec.cells_per_module),
            size=size,
        )
        start = (day + rnd.uniform(0.0, 0.5)) * DAY_S
        repair_h = min(
            max(rnd.lognormvariate(0.0, 0.8) * REPAIR_MEDIAN_H, REPAIR_RANGE_H[0]),
            REPAIR_RANGE_H[1],
        )
        incidents.append(Incident(fault, start, start + repair_h * HOUR_S))
    return incidents
