"""What a command would change, in words, for the confirmation step before it is sent."""

from dataclasses import dataclass

from app.commands.schemas import CommandRequest
from app.core.enums import CommandKind


@dataclass(frozen=True, slots=True)
class StringCapacity:
    """One string's share of the site now: connected, and at what fraction of its limits."""

    index: int
    closed: bool
    limit_fraction: float  # the tighter of charge/discharge limit over nameplate, 0..1


def _power(strings: list[StringCapacity], site_kw: float) -> float:
    """Site power capability from connected strings, derates pro rata."""
    if not strings:
        return 0.0
    per_string = site_kw / len(strings)
    return sum(per_string * s.limit_fraction for s in strings if s.closed)


def _after(strings: list[StringCapacity], request: CommandRequest) -> list[StringCapacity]:
    def changed(s: StringCapacity) -> StringCapacity:
        if request.string not in (None, s.index):
            return s
        if request.kind is CommandKind.ISOLATE_STRING:
            return StringCapacity(s.index, False, s.limit_fraction)
        if request.kind is CommandKind.RETURN_STRING:
            return StringCapacity(s.index, True, s.limit_fraction)
        if request.kind is CommandKind.DERATE and request.pct is not None:
            return StringCapacity(s.index, s.closed, min(s.limit_fraction, request.pct / 100))
        return s

    return [changed(s) for s in strings]


def _mw(kw: float) -> str:
    return f"{kw / 1000:.2f} MW" if kw >= 1000 else f"{kw:.0f} kW"


def describe_impact(request: CommandRequest, strings: list[StringCapacity], site_kw: float) -> str:
    """E.g. "site power 2.00 MW → 1.50 MW, 3 of 4 strings online"."""
    if request.kind in (CommandKind.ISOLATE_MODULE, CommandKind.RETURN_MODULE):
        verb = "out of" if request.kind is CommandKind.ISOLATE_MODULE else "back into"
        return (
            f"module {request.module} of string {request.string} goes {verb} the current path; "
            "the string's voltage changes by one module"
        )
    if request.kind in (CommandKind.RESET_ALARMS, CommandKind.SET_BALANCING):
        where = f"string {request.string}" if request.string else "every string"
        return f"{where}: no change in power or in strings online"
    after = _after(strings, request)
    online = sum(s.closed for s in after)
    before_kw, after_kw = _power(strings, site_kw), _power(after, site_kw)
    return (
        f"site power {_mw(before_kw)} → {_mw(after_kw)}, {online} of {len(strings)} strings online"
    )
