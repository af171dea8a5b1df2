"""Assembly: decoded frames -> full module and string snapshots, one per asset per period."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from edge.can.decode import Decoded
from edge.can.events import Event, EventKind, Readings, fault_edges
from edge.counters import Counters, Reason
from edge.model import Target

SYSTEM_KEY = (0, 0)  # the system's state among the (string, module) keys: no string has 0

# Data-quality flags carried with every sample.
Q_STALE = 1  # some values were not refreshed during the period (the last ones are carried)
Q_INCOMPLETE = 2  # some temperatures or scalar values have never been received
Q_INVALID = 4  # some values arrived flagged invalid or out of range during the period


@dataclass(slots=True)
class AssetState:
    """What is known about one module or string: latest values and when they arrived."""

    cell_v: list[float | None]  # None: never received; NaN: flagged invalid by the BMS
    cell_at: list[float]
    temp_c: list[float | None]
    scalars: dict[str, float] = field(default_factory=dict)
    scalar_at: dict[str, float] = field(default_factory=dict)
    last_seen: float = 0.0
    first_seen: float = math.inf
    invalid_in_period: bool = False
    comms_lost: bool = False


def _complete(event: Event, state: AssetState) -> Event:
    """An event with what its asset's frames said at that moment: a module fault's readings,
    a contactor opening's reason (SunSpec StrDisRsn, in the same status frame)."""
    if event.kind is EventKind.FAULT_RAISED and event.module:
        return replace(event, readings=_readings(state))
    if event.kind is EventKind.CONTACTOR_OPENED and "disable_reason" in state.scalars:
        return replace(event, disable_reason=int(state.scalars["disable_reason"]))
    return event


def _readings(state: AssetState) -> Readings | None:
    """A module's cell voltages and temperatures known right now, if every cell is known."""
    cells = tuple(v for v in state.cell_v if v is not None and not math.isnan(v))
    if not cells or len(cells) < len(state.cell_v):
        return None
    return Readings(cells, tuple(t for t in state.temp_c if t is not None))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One sample of one module (module > 0), string (module == 0) or the system (string and
    module 0), for a whole period."""

    ts: float  # period start, seconds since the epoch
    string: int
    module: int
    values: dict[str, float]
    cell_v: tuple[float | None, ...]  # None: a cell the BMS flagged invalid in its last frame
    temp_c: tuple[float, ...]
    quality: int


@dataclass(slots=True)
class PeriodOutput:
    """What closing one or more periods produced."""

    modules: list[Snapshot] = field(default_factory=list)
    strings: list[Snapshot] = field(default_factory=list)
    systems: list[Snapshot] = field(default_factory=list)  # string 0, module 0: the pack
    events: list[Event] = field(default_factory=list)
    incomplete: int = 0  # modules heard from but never with all cell voltages
    # Of those, modules heard in an earlier period too: not a start-up gap but cells that do not
    # come (e.g. the site file says more cells per module than the mapping binds).
    held_back: int = 0
    held_back_detail: str = ""  # the first of them, and which cells it lacked


class Assembler:
    """Keeps per-asset state, detects events, and emits one snapshot per asset per period."""

    def __init__(
        self,
        *,
        period_s: float,
        cells: int,
        temps: int,
        comms_timeout_s: float,
        fault_names: dict[Target, dict[int, str]] | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.period_s = period_s
        self.cells = cells
        self.temps = temps
        self.comms_timeout_s = comms_timeout_s
        self.fault_names = fault_names or {}
        self.counters = counters or Counters()
        self.assets: dict[tuple[int, int], AssetState] = {}
        self.period_start: float | None = None
        self.ready = PeriodOutput()
        # Told of fault and contactor events the moment their frame arrives (the local
        # policy), not at the end of the period.
        self.listener: Callable[[list[Event]], None] | None = None

    def add(self, decoded: Decoded) -> None:
        """Fold a decoded frame into its asset's state; closes periods the frame has passed."""
        if decoded.target is Target.ACK:
            return
        self._close_periods_before(decoded.ts)
        key = (decoded.string, decoded.module if decoded.target is Target.MODULE else 0)
        if decoded.target is Target.SYSTEM:
            key = SYSTEM_KEY
        state = self.assets.get(key) or self._new_state(key)
        if state.comms_lost:
            state.comms_lost = False
            self._event(decoded.ts, EventKind.COMMS_RESTORED, decoded.target, key)
        state.last_seen = max(state.last_seen, decoded.ts)
        state.first_seen = min(state.first_seen, decoded.ts)
        if decoded.invalid:
            state.invalid_in_period = True
        found: list[Event] = []
        for resolved, value in decoded.values:
            if resolved.bit is not None:
                found += self._flag(state, decoded, key, resolved.bit, value)
            elif resolved.index is None:
                found += self._scalar(state, decoded, key, resolved.field, value)
            elif resolved.field == "cell_v":
                self._cell(state, resolved.index, value, decoded)
            elif resolved.field == "temp_c" and resolved.index < self.temps:
                state.temp_c[resolved.index] = value
        for resolved in decoded.invalid_cells:
            assert resolved.index is not None
            self._cell(state, resolved.index, math.nan, decoded)
        if found:
            # Completed once the whole frame is in: its other values are part of the event.
            self._tell([_complete(event, state) for event in found])

    def _cell(self, state: AssetState, index: int, value: float, decoded: Decoded) -> None:
        if index >= self.cells:
            # The mapping binds more cells than the site file says a module has.
            self.counters.reject(
                Reason.CELL_OUTSIDE_SITE,
                f"string {decoded.string} module "
                f"{decoded.module} cell {index + 1}: the site file says "
                f"cells_per_module = {self.cells}",
            )
            return
        state.cell_v[index] = value
        state.cell_at[index] = decoded.ts

    def _flag(
        self, state: AssetState, decoded: Decoded, key: tuple[int, int], bit: int, value: float
    ) -> list[Event]:
        """A one-bit fault flag folded into the asset's fault word (events from its edges)."""
        word = int(state.scalars.get("fault_bits", 0))
        word = word | 1 << bit if value else word & ~(1 << bit)
        return self._scalar(state, decoded, key, "fault_bits", word)

    def flush(self, now: float) -> PeriodOutput:
        """Everything ready by `now`: closed periods' snapshots, and events (comms loss too)."""
        self._close_periods_before(now)
        self._detect_comms_loss(now)
        output, self.ready = self.ready, PeriodOutput()
        return output

    def _close_periods_before(self, ts: float) -> None:
        # Frames arrive in bus order, so the first frame of a new period closes the open one.
        start = math.floor(ts / self.period_s) * self.period_s
        if self.period_start is not None and start > self.period_start:
            self._close_period(self.ready)
        if self.period_start is None or start > self.period_start:
            self.period_start = start

    def _new_state(self, key: tuple[int, int]) -> AssetState:
        cells = self.cells if key[1] else 0
        temps = self.temps if key[1] else 0
        state = AssetState([None] * cells, [0.0] * cells, [None] * temps)
        self.assets[key] = state
        return state

    def _scalar(
        self, state: AssetState, decoded: Decoded, key: tuple[int, int], name: str, value: float
    ) -> list[Event]:
        previous = state.scalars.get(name)
        state.scalars[name] = value
        state.scalar_at[name] = decoded.ts
        if name == "fault_bits" and previous != value:
            names = self.fault_names.get(decoded.target, {})
            where = (decoded.target, key[0], key[1])
            return fault_edges(
                previous=int(previous or 0),
                current=int(value),
                names=names,
                where=where,
                ts=decoded.ts,
            )
        if name == "contactor_closed" and previous is not None and previous != value:
            kind = EventKind.CONTACTOR_CLOSED if value else EventKind.CONTACTOR_OPENED
            return [Event(decoded.ts, kind, decoded.target, key[0], key[1])]
        if name == "bypassed" and key[1] and bool(previous) != bool(value):
            # A module that first reports itself bypassed was bypassed before we heard it.
            kind = EventKind.MODULE_BYPASSED if value else EventKind.MODULE_RETURNED
            return [Event(decoded.ts, kind, decoded.target, key[0], key[1])]
        return []

    def _tell(self, events: list[Event]) -> None:
        self.ready.events.extend(events)
        if self.listener is not None:
            self.listener(events)

    def _event(self, ts: float, kind: EventKind, target: Target, key: tuple[int, int]) -> None:
        self.ready.events.append(Event(ts, kind, target, key[0], key[1]))

    def _close_period(self, output: PeriodOutput) -> None:
        assert self.period_start is not None
        start = self.period_start
        for key, state in self.assets.items():
            if state.last_seen < start or state.comms_lost:
                continue  # not heard from in this period: a gap stays a gap
            snapshot = self._snapshot(start, key, state)
            state.invalid_in_period = False
            if snapshot is None:
                output.incomplete += 1
                if state.first_seen < start:
                    self._held_back(output, key, state)
            elif key[1]:
                output.modules.append(snapshot)
            elif key == SYSTEM_KEY:
                output.systems.append(snapshot)
            else:
                output.strings.append(snapshot)

    def _snapshot(self, start: float, key: tuple[int, int], state: AssetState) -> Snapshot | None:
        if any(v is None for v in state.cell_v):
            return None
        cells = tuple(None if v is None or math.isnan(v) else v for v in state.cell_v)
        quality = Q_INVALID if state.invalid_in_period or None in cells else 0
        if any(at < start for at in state.cell_at):
            quality |= Q_STALE
        if any(t is None for t in state.temp_c):
            quality |= Q_INCOMPLETE
        temps = tuple(t for t in state.temp_c if t is not None)
        return Snapshot(start, key[0], key[1], dict(state.scalars), cells, temps, quality)

    def _held_back(self, output: PeriodOutput, key: tuple[int, int], state: AssetState) -> None:
        output.held_back += 1
        if not output.held_back_detail:
            missing = [i + 1 for i, v in enumerate(state.cell_v) if v is None]
            output.held_back_detail = (
                f"string {key[0]} module {key[1]}: cells "
                f"{_ranges(missing)} of {self.cells} never received; "
                "does the site's cells_per_module match the "
                "mapping?"
            )

    def _detect_comms_loss(self, now: float) -> None:
        for key, state in self.assets.items():
            if key == SYSTEM_KEY:
                continue  # comms events name a string or module; the system's gap stays a gap
            if not state.comms_lost and now - state.last_seen > self.comms_timeout_s:
                state.comms_lost = True
                target = Target.MODULE if key[1] else Target.STRING
                # The onset is the last frame heard: data stopped right after it.
                self._event(state.last_seen, EventKind.COMMS_LOST, target, key)


def _ranges(numbers: list[int]) -> str:
    """1, 2, 3, 7 as "1-3, 7"."""
    parts: list[str] = []
    for number in numbers:
        if parts and parts[-1].split("-")[-1] == str(number - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{number}"
        else:
            parts.append(str(number))
    return ", ".join(parts)
