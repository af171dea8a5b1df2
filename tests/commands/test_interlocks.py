"""Backend interlocks: last string, remaining current capacity, conflicting commands, and what
would make each refused command possible (figures worked out by hand in the comments)."""

from dataclasses import replace

from app.commands.interlocks import Pending, Refusal, StringState, Target, bus_voltage, check
from app.core.enums import CommandKind

NAMEPLATE_KW = 100.0


def strings(
    *closed_currents: tuple[bool, float], limit: float = 140.0, volts: float | None = 843.2
) -> list[StringState]:
    """Strings 1..n (rack ids 10..) with their contactor state and current, rated 140 A, limits
    `limit` both ways, all at `volts`."""
    return [
        StringState(
            rack_id=10 + i,
            index=i + 1,
            closed=closed,
            current_a=current,
            charge_limit_a=limit,
            discharge_limit_a=limit,
            max_charge_a=140.0,
            max_discharge_a=140.0,
            voltage_v=volts,
        )
        for i, (closed, current) in enumerate(closed_currents)
    ]


def isolate(rack_id: int, site: list[StringState]) -> Refusal | None:
    """The interlocks' verdict on isolating one string of a 100 kW site."""
    return check(
        CommandKind.ISOLATE_STRING, Target(rack_id=rack_id), site, [], nameplate_kw=NAMEPLATE_KW
    )


def test_the_last_connected_string_is_never_isolated() -> None:
    site = strings((True, 0.0), (False, 0.0))
    assert isolate(10, site) == Refusal(
        "this is the last connected string; isolating it would trip the site",
        "return another string to service first",
    )
    # Isolating the string that is already open leaves the closed one carrying the site.
    assert isolate(11, site) is None
    # A one-string site has no other string to return: nothing would make it possible.
    alone = isolate(10, strings((True, 0.0)))
    assert alone is not None
    assert alone.remedy is None


def test_too_much_current_asks_to_derate_the_string_first_when_that_is_enough() -> None:
    # 3 x 100 A discharge; without string 1, 2 x 140 A = 280 A remain, 279 A with the 1 A margin.
    # String 1 at 0 % leaves the others' 200 A on the bus, which fits. The bus voltage is the
    # mean of 840.0, 845.0 and 844.6 V = 843.2 V, so 279 A is 279 x 843.2 / 1000 = 235.25 kW.
    busy = strings((True, 100.0), (True, 100.0), (True, 100.0))
    busy = [replace(s, voltage_v=v) for s, v in zip(busy, (840.0, 845.0, 844.6), strict=True)]
    assert isolate(10, busy) == Refusal(
        "the site is carrying 300 A of discharge current and the limits of the other 2 strings "
        "add up to 280 A",
        "derate string 1 to 0 % first, so the site draws no more than the other 2 strings can "
        "carry (279 A, about 235 kW at 843 V)",
    )
    light = strings((True, 60.0), (True, 60.0), (True, 60.0))  # 180 A of 279 A
    assert isolate(10, light) is None


def test_following_the_remedy_makes_the_isolation_possible() -> None:
    busy = strings((True, 100.0), (True, 100.0), (True, 100.0))
    refusal = isolate(10, busy)
    assert refusal is not None
    assert refusal.remedy is not None
    assert refusal.remedy.startswith("derate string 1 to 0 % first")
    # As the simulated BMS does it: string 1's limits go to 0 A, so its current stops.
    derated = [
        replace(busy[0], current_a=0.0, charge_limit_a=0.0, discharge_limit_a=0.0),
        *busy[1:],
    ]
    assert isolate(10, derated) is None


def test_a_derated_remaining_string_counts_by_its_limit() -> None:
    # String 2 derated to 30 % (42 A) carries 42 A: 100 + 42 + 100 = 242 A on the bus. Without
    # string 1: 42 + 140 = 182 A, 181 A with the margin; the others' 142 A fit.
    # 181 A x 843.2 V = 152.6 kW.
    site = strings((True, 100.0), (True, 42.0), (True, 100.0))
    site[1] = replace(site[1], charge_limit_a=42.0, discharge_limit_a=42.0)
    assert isolate(10, site) == Refusal(
        "the site is carrying 242 A of discharge current and the limits of the other 2 strings "
        "add up to 182 A",
        "derate string 1 to 0 % first, so the site draws no more than the other 2 strings can "
        "carry (181 A, about 153 kW at 843 V)",
    )


def test_when_the_others_are_full_only_less_site_power_helps() -> None:
    # Each string at 139.8 A: 419.4 A on the bus. The other two alone carry 279.6 A, more than
    # the 279 A allowed, so derating string 1 cannot be enough; a site derate would lower the
    # others' limits as well. No voltage reading: the nominal bus voltage is the nameplate
    # over the rated current, 100 kW / (3 x 140 A) = 238.1 V, and 279 A x 238.1 V = 66.4 kW.
    full = strings((True, 139.8), (True, 139.8), (True, 139.8), volts=None)
    assert bus_voltage(full, charging=False, nameplate_kw=NAMEPLATE_KW) == 100_000 / 420
    assert isolate(10, full) == Refusal(
        "the site is carrying 419 A of discharge current and the limits of the other 2 strings "
        "add up to 280 A",
        "bring the site's power down to what the other 2 strings can carry (279 A, about 66 kW "
        "at 238 V) first, at the site controller: a derate would lower their limits along with "
        "the current",
    )


def test_charge_current_counts_charge_limits() -> None:
    # 2 x 50 A charging (negative, SunSpec's sign), limits 60 A: without string 2, 60 A remain
    # (59 A with the margin).
    site = strings((True, -50.0), (True, -50.0), limit=60.0)
    refusal = isolate(11, site)
    assert refusal is not None
    assert refusal.reason == (
        "the site is carrying 100 A of charge current and the limits of the other 1 string add "
        "up to 60 A"
    )
    assert refusal.remedy == (
        "derate string 2 to 0 % first, so the site draws no more than the other 1 string can "
        "carry (59 A, about 50 kW at 843 V)"
    )


def test_positive_current_is_discharge_and_meets_the_discharge_limits() -> None:
    # 2 x 50 A = 100 A positive: discharging. Without string 1, string 2 may discharge 80 A
    # (79 A with the margin) though it could take 120 A of charge: refused, as discharge.
    site = strings((True, 50.0), (True, 50.0))
    site[1] = replace(site[1], charge_limit_a=120.0, discharge_limit_a=80.0)
    refusal = isolate(10, site)
    assert refusal is not None
    assert refusal.reason == (
        "the site is carrying 100 A of discharge current and the limits of the other 1 string "
        "add up to 80 A"
    )
    # The same 100 A charging (negative) fits string 2's 120 A charge limit.
    charging = [replace(s, current_a=-50.0) for s in site]
    assert isolate(10, charging) is None


def test_a_conflicting_command_on_the_same_target_is_refused() -> None:
    site = strings((True, 0.0), (True, 0.0), (True, 0.0))
    pending = [
        Pending(7, "derate", rack_id=11, module_id=None, state="queued"),
        Pending(8, "isolate_module", 12, 99, state="sent"),
    ]

    def verdict(kind: CommandKind, target: Target, waiting: list[Pending]) -> Refusal | None:
        return check(kind, target, site, waiting, nameplate_kw=NAMEPLATE_KW)

    assert verdict(CommandKind.ISOLATE_STRING, Target(rack_id=11), pending) == Refusal(
        "command #7 (derate) is still in flight on this target",
        "wait for command #7 to finish or cancel it",
    )
    # A sent command can no longer be cancelled: the remedy offers to clear it instead.
    assert verdict(CommandKind.RETURN_MODULE, Target(rack_id=12, module_id=99), pending) == (
        Refusal(
            "command #8 (isolate module) is still in flight on this target",
            "wait for command #8 to finish (the edge has it; every state has a deadline), or clear "
            "it with a reason if it is stuck",
        )
    )
    # A module command does not block its string, nor the string's another module.
    assert verdict(CommandKind.ISOLATE_STRING, Target(rack_id=12), pending) is None
    assert verdict(CommandKind.ISOLATE_MODULE, Target(rack_id=12, module_id=98), pending) is None
    # A site-wide command conflicts with another site-wide one only.
    site_wide = [Pending(9, "derate", None, None, state="acked")]
    assert verdict(CommandKind.DERATE, Target(), site_wide) is not None
    assert verdict(CommandKind.DERATE, Target(rack_id=10), site_wide) is None


def test_a_refusal_reads_as_reason_then_remedy() -> None:
    assert str(Refusal("no", "do this first")) == "no; do this first"
    assert str(Refusal("no")) == "no"
