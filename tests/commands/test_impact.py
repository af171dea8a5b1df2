"""The confirmation step states what a command would change."""

from app.commands.impact import StringCapacity, describe_impact
from app.commands.schemas import CommandRequest

FOUR = [StringCapacity(i, True, 1.0) for i in range(1, 5)]


def request(**fields: object) -> CommandRequest:
    """A valid request with a reason and a note."""
    return CommandRequest.model_validate({"reason": "fault", "note": "test", **fields})


def test_isolating_one_of_four_strings() -> None:
    text = describe_impact(request(kind="isolate_string", string=3), FOUR, 2000.0)
    assert text == "site power 2.00 MW → 1.50 MW, 3 of 4 strings online"


def test_derating_a_string_and_the_site() -> None:
    one = describe_impact(request(kind="derate", string=1, pct=50), FOUR, 2000.0)
    site = describe_impact(request(kind="derate", pct=25), FOUR, 400.0)
    assert one == "site power 2.00 MW → 1.75 MW, 4 of 4 strings online"
    assert site == "site power 400 kW → 100 kW, 4 of 4 strings online"


def test_returning_a_string_and_bypassing_a_module() -> None:
    three = [*FOUR[:3], StringCapacity(4, False, 1.0)]
    back = describe_impact(request(kind="return_string", string=4), three, 2000.0)
    module = describe_impact(request(kind="isolate_module", string=2, module=7), FOUR, 2000.0)
    assert back == "site power 1.50 MW → 2.00 MW, 4 of 4 strings online"
    assert module.startswith("module 7 of string 2 goes out of the current path")
