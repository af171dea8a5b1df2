"""What a command would change, in words, for the confirmation step before it is sent."""

from dataclasses import dataclass, replace

from app.commands.schemas import CommandRequest
from app.core.enums import CommandKind


@dataclass(frozen=True, slots=True)
class StringCapacity:
    """One string's share of the site now: connected, and at what fraction of its limits."""

    index: int
    closed: bool
    limit_fraction: float  # the tighter of charge/discharge limit over nameplate, 0..1


def capacity_online(strings: list[StringCapacity]) -> float:
    """Capacity online, 0..1: connected strings, derates pro rata (as on the site page)."""
    if not strings:
        return 0.0
    return sum(s.limit_fraction for s in strings if s.closed) / len(strings)


def _after(
    strings: list[StringCapacity], request: CommandRequest, derate_pct: float | None
) -> list[StringCapacity]:
    """The strings once the command has taken effect."""

    def changed(s: StringCapacity) -> StringCapacity:
        if request.string not in (None, s.index):
            return s
        if request.kind is CommandKind.ISOLATE_STRING:
            return replace(s, closed=False)
        if request.kind is CommandKind.RETURN_STRING:
            return replace(s, closed=True, limit_fraction=1.0)  # full service: derate lifted
        if request.kind is CommandKind.DERATE and derate_pct is not None:
            # The BMS sets the limits to the share asked for, up as well as down.
            return replace(s, limit_fraction=derate_pct / 100)
        return s

    return [changed(s) for s in strings]


def _mw(kw: float) -> str:
    return f"{kw / 1000:.2f} MW" if kw >= 1000 else f"{kw:.0f} kW"


def _module_or_no_change(request: CommandRequest) -> str | None:
    if request.kind in (CommandKind.ISOLATE_MODULE, CommandKind.RETURN_MODULE):
        verb = "out of" if request.kind is CommandKind.ISOLATE_MODULE else "back into"
        return (
            f"module {request.module} of string {request.string} goes {verb} the current path; "
            "the string's voltage changes by one module"
        )
    if request.kind in (CommandKind.RESET_ALARMS, CommandKind.SET_BALANCING):
        where = f"string {request.string}" if request.string else "every string"
        return f"{where}: no change in power or in strings online"
    return None


def describe_impact(request: CommandRequest, strings: list[StringCapacity], site_kw: float) -> str:
    """E.g. "site power 2.00 MW → 1.50 MW, 3 of 4 strings online, capacity online 100 % → 75 %".

    Site power capability is the nameplate times capacity online, so both move together.
    """
    other = _module_or_no_change(request)
    if other is not None:
        return other
    pct = request.derate_pct(nameplate_kw=site_kw, strings=len(strings))
    after = _after(strings, request, pct)
    before_share, after_share = capacity_online(strings), capacity_online(after)
    online = sum(s.closed for s in after)
    return (
        f"site power {_mw(site_kw * before_share)} → {_mw(site_kw * after_share)}, "
        f"{online} of {len(strings)} strings online, "
        f"capacity online {100 * before_share:.0f} % → {100 * after_share:.0f} %"
    )
