"""Events the edge detects: fault bits, contactor and module-bypass feedback, comms loss."""

from dataclasses import dataclass
from enum import StrEnum

from edge.model import Target


class EventKind(StrEnum):
    """What happened."""

    FAULT_RAISED = "fault_raised"
    FAULT_CLEARED = "fault_cleared"
    CONTACTOR_OPENED = "contactor_opened"
    CONTACTOR_CLOSED = "contactor_closed"
    COMMS_LOST = "comms_lost"
    COMMS_RESTORED = "comms_restored"
    MODULE_BYPASSED = "module_bypassed"  # the module's bypass feedback went on
    MODULE_RETURNED = "module_returned"  # ... and off again


@dataclass(frozen=True, slots=True)
class Readings:
    """A module's cell voltages and temperatures as the edge knew them when a fault rose."""

    cell_v: tuple[float, ...]
    temp_c: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Event:
    """One event with its exact onset time (the frame that showed it, or the last frame heard)."""

    ts: float
    kind: EventKind
    target: Target
    string: int
    module: int  # 0 for string-level events
    code: str = ""
    # For a module fault raised: the readings the BMS tripped on (its frames of the same cycle
    # come before the fault word), so the alarm can name the cell and value that crossed the
    # limit. The period's sample is not a substitute: it closes later, and the batch sent
    # before then holds the previous one.
    readings: Readings | None = None
    # For a string's contactors opening: the BMS's reason, from the same status frame.
    disable_reason: int | None = None


def fault_code(names: dict[int, str], target: Target, bit: int) -> str:
    """The catalogue code of a fault bit, or a generic one when the mapping does not name it."""
    return names.get(bit, f"{target}_fault_bit_{bit}")


def fault_edges(
    *, previous: int, current: int, names: dict[int, str], where: tuple[Target, int, int], ts: float
) -> list[Event]:
    """Events for every bit that changed between two fault words."""
    target, string, module = where
    events = []
    changed = previous ^ current
    bit = 0
    while changed >> bit:
        if (changed >> bit) & 1:
            kind = EventKind.FAULT_RAISED if (current >> bit) & 1 else EventKind.FAULT_CLEARED
            events.append(Event(ts, kind, target, string, module, fault_code(names, target, bit)))
        bit += 1
    return events
