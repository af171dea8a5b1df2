"""Scripted incidents: faults injected at a simulated time and repaired at a later one.

The demo's site file scripts one that recurs once per simulated day; the backfilled history
draws its own. Either way the plan only says what is due; the simulator applies it.
"""

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import count

from edge.sim.faults import Fault

HOUR_S = 3600.0


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
