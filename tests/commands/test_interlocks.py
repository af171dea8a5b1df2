"""Backend interlocks: last string, remaining current capacity, conflicting commands."""

from app.commands.interlocks import Pending, StringState, Target, check
from app.core.enums import CommandKind


def strings(*closed_currents: tuple[bool, float], limit: float = 140.0) -> list[StringState]:
    """Strings 1..n with their contactor state and current, limits `limit` both ways."""
    return [
        StringState(rack_id=10 + i, index=i + 1, closed=closed, current_a=current,
                    charge_limit_a=limit, discharge_limit_a=limit)
        for i, (closed, current) in enumerate(closed_currents)
    ]  # fmt: skip


def test_the_last_connected_string_is_never_isolated() -> None:
    site = strings((True, 0.0), (False, 0.0))
    refusal = check(CommandKind.ISOLATE_STRING, Target(rack_id=10), site, [])
    assert refusal is not None
    assert "last connected string" in refusal
    # Isolating the string that is already open leaves the closed one carrying the site.
    assert check(CommandKind.ISOLATE_STRING, Target(rack_id=11), site, []) is None


def test_isolation_is_refused_when_the_rest_cannot_carry_the_current() -> None:
    busy = strings((True, -100.0), (True, -100.0), (True, -100.0))  # 300 A discharge
    refusal = check(CommandKind.ISOLATE_STRING, Target(rack_id=10), busy, [])
    assert refusal == (
        "refused: the site is carrying 300 A of discharge current and the 2 remaining strings "
        "are limited to 280 A"
    )
    light = strings((True, -60.0), (True, -60.0), (True, -60.0))  # 180 A of 280 A
    assert check(CommandKind.ISOLATE_STRING, Target(rack_id=10), light, []) is None


def test_derated_strings_count_by_their_limits() -> None:
    site = strings((True, 50.0), (True, 50.0), limit=60.0)  # 100 A charge, 60 A would remain
    refusal = check(CommandKind.ISOLATE_STRING, Target(rack_id=11), site, [])
    assert refusal is not None
    assert "charge current" in refusal


def test_a_conflicting_command_on_the_same_target_is_refused() -> None:
    site = strings((True, 0.0), (True, 0.0), (True, 0.0))
    pending = [
        Pending(7, "derate", rack_id=11, module_id=None),
        Pending(8, "isolate_module", 12, 99),
    ]
    on_string = check(CommandKind.ISOLATE_STRING, Target(rack_id=11), site, pending)
    assert on_string is not None
    assert on_string.startswith("command #7 (derate) is still in flight")
    on_module = check(CommandKind.RETURN_MODULE, Target(rack_id=12, module_id=99), site, pending)
    assert on_module is not None
    assert on_module.startswith("command #8")
    # A module command does not block its string, nor the string's another module.
    assert check(CommandKind.ISOLATE_STRING, Target(rack_id=12), site, pending) is None
    assert (
        check(CommandKind.ISOLATE_MODULE, Target(rack_id=12, module_id=98), site, pending) is None
    )
    # A site-wide command conflicts with another site-wide one only.
    site_wide = [Pending(9, "derate", None, None)]
    assert check(CommandKind.DERATE, Target(), site, site_wide) is not None
    assert check(CommandKind.DERATE, Target(rack_id=10), site, site_wide) is None
