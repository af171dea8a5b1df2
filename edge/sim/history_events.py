"""Events of a generated history: what the edge's assembler would detect in the BMS's frames.

Fault bits rising and falling (a module fault with the readings it rose on), contactors and
module bypasses changing, modules falling silent and coming back.
"""

from dataclasses import dataclass, field, replace

from edge.can.events import Event, EventKind, Readings, fault_edges
from edge.model import Target
from edge.sim.plant import Plant, SimModule
from edge.sim.snapshots import module_cells, module_temps

FaultNames = dict[Target, dict[int, str]]


@dataclass
class EventWatch:
    """Remembers the last state of every module and string; reports what changed."""

    names: FaultNames
    faults: dict[tuple[int, int], int] = field(default_factory=dict)
    closed: dict[int, bool] = field(default_factory=dict)
    bypassed: dict[tuple[int, int], bool] = field(default_factory=dict)
    silent: dict[tuple[int, int], bool] = field(default_factory=dict)

    def changes(self, plant: Plant, ts: float) -> list[Event]:
        """The events between the last call and the plant's state now, stamped `ts`."""
        events: list[Event] = []
        for string in plant.strings:
            for module in string.modules:
                key = (string.index, module.position)
                if self._silence(events, key, silent=not module.comms_ok, ts=ts):
                    continue
                events += _with_readings(
                    self._faults(Target.MODULE, key, module.faults, ts), module
                )
                if self.bypassed.get(key, False) != module.bypassed:
                    kind = (
                        EventKind.MODULE_BYPASSED if module.bypassed else EventKind.MODULE_RETURNED
                    )
                    events.append(Event(ts, kind, Target.MODULE, *key))
                self.bypassed[key] = module.bypassed
            events += self._faults(Target.STRING, (string.index, 0), string.faults, ts)
            was = self.closed.get(string.index)
            if was is not None and was != string.contactor_closed:
                events.append(
                    _contactor(ts, string.index, string.contactor_closed, string.dis_reason)
                )
            self.closed[string.index] = string.contactor_closed
        return events

    def _faults(self, target: Target, key: tuple[int, int], word: int, ts: float) -> list[Event]:
        previous, self.faults[key] = self.faults.get(key, 0), word
        if previous == word:
            return []
        return fault_edges(
            previous=previous,
            current=word,
            names=self.names.get(target, {}),
            where=(target, *key),
            ts=ts,
        )

    def _silence(
        self, events: list[Event], key: tuple[int, int], *, silent: bool, ts: float
    ) -> bool:
        """Record comms lost or restored; True while the module is silent."""
        if self.silent.get(key, False) != silent:
            kind = EventKind.COMMS_LOST if silent else EventKind.COMMS_RESTORED
            events.append(Event(ts, kind, Target.MODULE, *key))
        self.silent[key] = silent
        return silent


def _with_readings(edges: list[Event], module: SimModule) -> list[Event]:
    """A raised fault carries the readings it rose on (read only then: most steps raise none)."""
    if not any(e.kind is EventKind.FAULT_RAISED for e in edges):
        return edges
    readings = Readings(module_cells(module), module_temps(module))
    return [replace(e, readings=readings) if e.kind is EventKind.FAULT_RAISED else e for e in edges]


def _contactor(ts: float, string: int, closed: bool, reason: int) -> Event:
    if closed:
        return Event(ts, EventKind.CONTACTOR_CLOSED, Target.STRING, string, 0)
    return Event(ts, EventKind.CONTACTOR_OPENED, Target.STRING, string, 0, disable_reason=reason)
