"""Backend interlocks: checked before a command is queued (the edge checks again before sending).

Pure functions over the site's latest string states and its pending commands, so the same rules
are easy to test and to explain: each refusal says what would go wrong.
"""

from dataclasses import dataclass

from app.core.enums import CommandKind

CURRENT_MARGIN = 1.0  # the remaining strings must carry the site's current with this margin (A)


@dataclass(frozen=True, slots=True)
class StringState:
    """What the interlocks need to know about one string now."""

    rack_id: int
    index: int
    closed: bool
    current_a: float  # positive charges, negative discharges
    charge_limit_a: float
    discharge_limit_a: float


@dataclass(frozen=True, slots=True)
class Pending:
    """A command still in flight (queued, sent or acknowledged)."""

    id: int
    kind: str
    rack_id: int | None
    module_id: int | None


@dataclass(frozen=True, slots=True)
class Target:
    """What a new command acts on: the site, one string, or one module (and its string)."""

    rack_id: int | None = None
    module_id: int | None = None


def conflicting(target: Target, pending: list[Pending]) -> str | None:
    """A refusal when another command is still in flight on the same target."""
    for other in pending:
        same_module = target.module_id is not None and other.module_id == target.module_id
        same_string = (
            target.module_id is None and other.module_id is None and other.rack_id == target.rack_id
        )
        if same_module or same_string:
            return (
                f"command #{other.id} ({other.kind.replace('_', ' ')}) is still in flight on "
                "this target; wait for it to finish or cancel it"
            )
    return None


def isolation_refusal(rack_id: int, strings: list[StringState]) -> str | None:
    """Why a string cannot be taken out now: the last one, or the rest could not carry the load."""
    remaining = [s for s in strings if s.closed and s.rack_id != rack_id]
    if not remaining:
        return "refused: this is the last connected string; isolating it would trip the site"
    site_current = sum(s.current_a for s in strings if s.closed)
    if site_current >= 0:
        capacity = sum(s.charge_limit_a for s in remaining)
        direction = "charge"
    else:
        capacity = sum(s.discharge_limit_a for s in remaining)
        direction = "discharge"
    if abs(site_current) > capacity - CURRENT_MARGIN:
        return (
            f"refused: the site is carrying {abs(site_current):.0f} A of {direction} current and "
            f"the {len(remaining)} remaining strings are limited to {capacity:.0f} A"
        )
    return None


def check(
    kind: CommandKind, target: Target, strings: list[StringState], pending: list[Pending]
) -> str | None:
    """The reason to refuse a command now, or None when it may be queued."""
    conflict = conflicting(target, pending)
    if conflict is not None:
        return conflict
    if kind is CommandKind.ISOLATE_STRING and target.rack_id is not None:
        return isolation_refusal(target.rack_id, strings)
    return None
