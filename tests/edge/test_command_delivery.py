"""Reading a delivered command: every field checked, the first bad one named."""

import pytest

from edge.control.delivery import UnreadableCommandError, read_delivery

GOOD = {
    "id": 7,
    "kind": "derate",
    "string": 2,
    "module": None,
    "params": {"pct": 60},
    "reason": "maintenance",
    "expires_in_s": 42.5,
    "revert_after_s": 3600,
}


def test_a_delivery_is_read_into_its_fields() -> None:
    command = read_delivery(GOOD | {"added_by_a_newer_backend": True})
    assert (command.id, command.kind, command.string, command.module) == (7, "derate", 2, None)
    assert (command.params, command.expires_in_s, command.revert_after_s) == (
        {"pct": 60},
        42.5,
        3600,
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"id": None}, "id:"),
        ({"id": 0}, "id:"),
        ({"kind": ""}, "kind:"),
        ({"string": 0}, "string:"),
        ({"module": 256}, "module:"),
        ({"params": {"pct": "sixty"}}, "params.pct"),
        ({"expires_in_s": float("nan")}, "expires_in_s:"),
    ],
)
def test_a_bad_field_is_named(change: dict[str, object], named: str) -> None:
    with pytest.raises(UnreadableCommandError, match=named):
        read_delivery(GOOD | change)


def test_something_that_is_not_a_command_is_unreadable() -> None:
    with pytest.raises(UnreadableCommandError, match="command"):
        read_delivery(["a", "list"])
