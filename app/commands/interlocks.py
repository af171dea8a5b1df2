"""Backend interlocks: checked in a command's preview and again before it is queued (the edge
checks once more before sending).

Pure functions over the site's latest string states and its pending commands, so the same rules
are easy to test and to explain: each refusal says what would go wrong and, where the operator
can do something about it, what would make the command possible.
"""

from dataclasses import dataclass

from app.core.enums import CommandKind
from app.telemetry.sign import Direction, direction

CURRENT_MARGIN = 1.0  # the remaining strings must carry the site's current with this margin (A)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a command cannot be queued now, and what would make it possible (when anything can)."""

    reason: str
    remedy: str | None = None

    def __str__(self) -> str:
        return self.reason if self.remedy is None else f"{self.reason}; {self.remedy}"


@dataclass(frozen=True, slots=True)
class StringState:
    """What the interlocks need to know about one string now."""

    rack_id: int
    index: int
    closed: bool
    current_a: float  # positive discharges, negative charges (app.telemetry.sign)
    charge_limit_a: float
    discharge_limit_a: float
    max_charge_a: float  # the string's rating
    max_discharge_a: float
    voltage_v: float | None


@dataclass(frozen=True, slots=True)
class Pending:
    """A command still in flight (queued, sent or acknowledged)."""

    id: int
    kind: str
    rack_id: int | None
    module_id: int | None
    state: str


@dataclass(frozen=True, slots=True)
class Target:
    """What a new command acts on: the site, one string, or one module (and its string)."""

    rack_id: int | None = None
    module_id: int | None = None


def _strings(n: int) -> str:
    return f"{n} string" if n == 1 else f"{n} strings"


def _wait_for(other: Pending) -> str:
    if other.state == "queued":
        return f"wait for command #{other.id} to finish or cancel it"
    # Once the edge has it, it runs to its end or its deadline; an operator may clear it.
    return (
        f"wait for command #{other.id} to finish (the edge has it; every state has a "
        "deadline), or clear it with a reason if it is stuck"
    )


def conflicting(target: Target, pending: list[Pending]) -> Refusal | None:
    """A refusal when another command is still in flight on the same target."""
    for other in pending:
        same_module = target.module_id is not None and other.module_id == target.module_id
        same_string = (
            target.module_id is None and other.module_id is None and other.rack_id == target.rack_id
        )
        if same_module or same_string:
            reason = (
                f"command #{other.id} ({other.kind.replace('_', ' ')}) is still in flight on "
                "this target"
            )
            return Refusal(reason, _wait_for(other))
    return None


def bus_voltage(strings: list[StringState], *, charging: bool, nameplate_kw: float) -> float:
    """The site's DC bus voltage (V): as measured, or else the nominal one from the nameplate.

    The strings sit in parallel on one bus, so the closed ones share its voltage; their mean
    smooths sensor offsets. Without a reading, the nominal voltage is the one at which every
    string at its rated current gives the nameplate power: V = P_nameplate / sum(I_rated).
    """
    measured = [s.voltage_v for s in strings if s.closed and s.voltage_v]
    if measured:
        return sum(measured) / len(measured)
    rated = sum(s.max_charge_a if charging else s.max_discharge_a for s in strings)
    return 1000.0 * nameplate_kw / rated if rated else 0.0


def current_remedy(
    target: StringState | None, remaining: list[StringState], *, room_a: float, volts: float
) -> str:
    """What makes an isolation possible when the remaining strings cannot carry the current.

    The site may carry at most room_a = sum(remaining limits) - margin, i.e. N = room_a * V / 1000
    kW at the bus voltage V. A site-wide derate cannot get there: it lowers the remaining
    strings' limits in the same proportion as the site's current. Derating the string itself to
    0 % can, when the other strings' own current already fits in room_a: it takes its share off
    the bus before its contactor opens.
    """
    others_n = _strings(len(remaining))
    if room_a <= 0:
        return f"lift the derate on the other {others_n} first; they may carry no current now"
    carry = f"{room_a:.0f} A, about {room_a * volts / 1000:.0f} kW at {volts:.0f} V"
    others = abs(sum(s.current_a for s in remaining))
    if target is not None and target.closed and others <= room_a:
        return (
            f"derate string {target.index} to 0 % first, so the site draws no more than the "
            f"other {others_n} can carry ({carry})"
        )
    return (
        f"bring the site's power down to what the other {others_n} can carry ({carry}) first, "
        "at the site controller: a derate would lower their limits along with the current"
    )


def isolation_refusal(
    rack_id: int, strings: list[StringState], *, nameplate_kw: float
) -> Refusal | None:
    """Why a string cannot be taken out now: the last one, or the rest could not carry the load."""
    closed = [s for s in strings if s.closed]
    remaining = [s for s in closed if s.rack_id != rack_id]
    if not remaining:
        # A one-string site has no other string to bring back.
        remedy = "return another string to service first" if len(strings) > 1 else None
        return Refusal(
            "this is the last connected string; isolating it would trip the site", remedy
        )
    site_current = sum(s.current_a for s in closed)
    flow = direction(site_current)
    charging = flow is Direction.CHARGE
    capacity = sum(s.charge_limit_a if charging else s.discharge_limit_a for s in remaining)
    if abs(site_current) <= capacity - CURRENT_MARGIN:
        return None
    reason = (
        f"the site is carrying {abs(site_current):.0f} A of {flow} current and the limits of "
        f"the other {_strings(len(remaining))} add up to {capacity:.0f} A"
    )
    target = next((s for s in strings if s.rack_id == rack_id), None)
    volts = bus_voltage(strings, charging=charging, nameplate_kw=nameplate_kw)
    remedy = current_remedy(target, remaining, room_a=capacity - CURRENT_MARGIN, volts=volts)
    return Refusal(reason, remedy)


def check(
    kind: CommandKind,
    target: Target,
    strings: list[StringState],
    pending: list[Pending],
    *,
    nameplate_kw: float,
) -> Refusal | None:
    """The refusal of a command now, or None when it may be queued."""
    conflict = conflicting(target, pending)
    if conflict is not None:
        return conflict
    if kind is CommandKind.ISOLATE_STRING and target.rack_id is not None:
        return isolation_refusal(target.rack_id, strings, nameplate_kw=nameplate_kw)
    return None
