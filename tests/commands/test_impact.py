"""The confirmation step states what a command would change (figures worked out by hand)."""

from app.commands.impact import StringCapacity, capacity_online, describe_impact
from app.commands.schemas import CommandRequest

FOUR = [StringCapacity(i, True, 1.0) for i in range(1, 5)]


def request(**fields: object) -> CommandRequest:
    """A valid request with a reason and a note."""
    return CommandRequest.model_validate({"reason": "fault", "note": "test", **fields})


def test_isolating_one_of_four_strings() -> None:
    text = describe_impact(request(kind="isolate_string", string=3), FOUR, 2000.0)
    assert text == (
        "site power 2.00 MW → 1.50 MW, 3 of 4 strings online, capacity online 100 % → 75 %"
    )


def test_derating_a_string_and_the_site() -> None:
    one = describe_impact(request(kind="derate", string=1, pct=60), FOUR, 2000.0)
    site = describe_impact(request(kind="derate", pct=25), FOUR, 400.0)
    # 3 + 0.6 = 3.6 of 4 strings: 90 % of 2,000 kW.
    assert one == (
        "site power 2.00 MW → 1.80 MW, 4 of 4 strings online, capacity online 100 % → 90 %"
    )
    assert site == "site power 400 kW → 100 kW, 4 of 4 strings online, capacity online 100 % → 25 %"


def test_a_derate_in_kw_is_the_same_share_the_edge_will_be_sent() -> None:
    # 200 kW of a 400 kW site is 50 % on every string; 25 kW on one string of four is 25 % of
    # its 100 kW share: 3.25 of 4 strings, 81.25 % of 400 kW = 325 kW.
    site = describe_impact(request(kind="derate", kw=200), FOUR, 400.0)
    one = describe_impact(request(kind="derate", string=2, kw=25), FOUR, 400.0)
    assert site == "site power 400 kW → 200 kW, 4 of 4 strings online, capacity online 100 % → 50 %"
    assert one == "site power 400 kW → 325 kW, 4 of 4 strings online, capacity online 100 % → 81 %"


# Six strings of an 860 kW site: 1 and 2 at full limits, 3 derated to 30 %, 4 and 5 to 50 %,
# 6 open: 1 + 1 + 0.3 + 0.5 + 0.5 = 3.3 string-equivalents, 55 % of 860 kW = 473 kW.
SIX = [
    StringCapacity(1, True, 1.0),
    StringCapacity(2, True, 1.0),
    StringCapacity(3, True, 0.3),
    StringCapacity(4, True, 0.5),
    StringCapacity(5, True, 0.5),
    StringCapacity(6, False, 1.0),
]


def test_a_derate_to_100_percent_lifts_the_limit() -> None:
    # String 3 back to 100 %: 4.0 of 6, 66.7 % of 860 kW = 573 kW (it used to say "473 → 473").
    text = describe_impact(request(kind="derate", string=3, pct=100), SIX, 860.0)
    assert text == (
        "site power 473 kW → 573 kW, 5 of 6 strings online, capacity online 55 % → 67 %"
    )
    # A derate also sets a higher share than the one in force, not only a lower one.
    raised = describe_impact(request(kind="derate", string=4, pct=80), SIX, 860.0)
    assert (
        raised == "site power 473 kW → 516 kW, 5 of 6 strings online, capacity online 55 % → 60 %"
    )


def test_returning_a_string_returns_it_to_full_service() -> None:
    # String 3 was isolated while derated to 30 %: 1 + 1 + 0.5 + 0.5 = 3.0 of 6 (50 %, 430 kW).
    # Returned, it comes back at full limits: 4.0 of 6 (66.7 %, 573 kW).
    isolated = [s if s.index != 3 else StringCapacity(3, False, 0.3) for s in SIX]
    text = describe_impact(request(kind="return_string", string=3), isolated, 860.0)
    assert text == (
        "site power 430 kW → 573 kW, 5 of 6 strings online, capacity online 50 % → 67 %"
    )
    three = [*FOUR[:3], StringCapacity(4, False, 1.0)]
    back = describe_impact(request(kind="return_string", string=4), three, 2000.0)
    assert back == (
        "site power 1.50 MW → 2.00 MW, 4 of 4 strings online, capacity online 75 % → 100 %"
    )


def test_capacity_online_counts_connected_strings_and_derates_pro_rata() -> None:
    assert capacity_online(SIX) == (1 + 1 + 0.3 + 0.5 + 0.5) / 6
    assert capacity_online([]) == 0.0


def test_module_and_alarm_commands_change_no_power() -> None:
    module = describe_impact(request(kind="isolate_module", string=2, module=7), FOUR, 2000.0)
    reset = describe_impact(request(kind="reset_alarms"), FOUR, 2000.0)
    assert module.startswith("module 7 of string 2 goes out of the current path")
    assert reset == "every string: no change in power or in strings online"
