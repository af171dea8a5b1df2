"""Alarm rows replayed from a source's history: pure logic, every order of the same events."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.alarms.episodes import Ack, Episode, Mark, Stored, plan, replay

T = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def t(seconds: float) -> datetime:
    """T + seconds."""
    return T + timedelta(seconds=seconds)


def up(seconds: float, cell: int | None = None) -> Mark:
    """A raise."""
    return Mark(t(seconds), True, cell, None, f"raised at {seconds}")


def down(seconds: float) -> Mark:
    """A clear."""
    return Mark(t(seconds), False)


def summary(episodes: list[Episode]) -> list[tuple[object, ...]]:
    """(first raise, last raise, count, cleared, state, acked at) of each row."""
    return [
        (
            e.first.ts,
            e.last_raised_at,
            e.occurrences,
            e.cleared_at,
            e.state,
            e.ack.at if e.ack else None,
        )
        for e in episodes
    ]


def test_a_clear_before_its_raise_still_clears_it() -> None:
    assert summary(replay([down(5), up(1)], [])) == [(t(1), t(1), 1, t(5), "rtn_unacked", None)]


def test_a_raise_after_a_later_clear_does_not_reopen_it() -> None:
    assert summary(replay([up(1), down(5), up(3)], [])) == [
        (t(1), t(3), 2, t(5), "rtn_unacked", None)
    ]


def test_a_clear_older_than_every_raise_belongs_to_an_earlier_condition() -> None:
    assert summary(replay([down(0.5), up(1)], [])) == [(t(1), t(1), 1, None, "unacked", None)]


def test_the_first_raise_names_the_cell_and_the_count_is_of_distinct_raises() -> None:
    (row,) = replay([up(8, cell=10), up(1, cell=6), down(5)], [])
    assert (row.first.cell_index, row.occurrences, row.cleared_at) == (6, 2, None)


def test_an_acknowledged_row_returns_to_normal_at_its_clear_and_a_later_raise_is_new() -> None:
    row = Stored(7, "acked", t(1), Ack(t(2), "op", "seen"))
    result = plan([row], [up(1), down(5), up(8)])
    assert summary(result.episodes) == [
        (t(1), t(1), 1, t(5), "normal", t(2)),
        (t(8), t(8), 1, None, "unacked", None),
    ]
    assert [e.row_id for e in result.episodes] == [7, None]
    assert result.merged == []


def test_an_acknowledgement_after_a_re_raise_covers_it() -> None:
    # The operator acknowledged at t=9: by then the condition had cleared and risen again.
    row = Stored(7, "acked", t(1), Ack(t(9)))
    assert summary(plan([row], [up(1), down(5), up(8)]).episodes) == [
        (t(1), t(8), 2, None, "acked", t(9))
    ]


def test_a_late_raise_before_a_return_to_normal_joins_two_rows_into_one() -> None:
    # Cleared at 5 and acknowledged at 6 (normal), raised again at 8 (a new row)... then a
    # raise at 5.5 arrives: the condition was back before the acknowledgement, which now
    # covers a standing alarm, so the row never returned to normal and the one at 8 is its.
    rows = [Stored(1, "normal", t(1), Ack(t(6))), Stored(2, "unacked", t(8))]
    result = plan(rows, [up(1), down(5), up(5.5), up(8)])
    assert summary(result.episodes) == [(t(1), t(8), 3, None, "acked", t(6))]
    assert ([e.row_id for e in result.episodes], result.merged) == ([1], [2])


def test_a_shelved_row_stands_until_its_shelf_ends() -> None:
    row = Stored(3, "shelved", t(1), Ack(t(2)))
    assert summary(plan([row], [up(1), down(5), up(8), down(9)]).episodes) == [
        (t(1), t(8), 2, t(9), "shelved", t(2))
    ]


def test_an_acknowledgement_never_precedes_its_rows_raise() -> None:
    # The edge's clock ran ahead of ours: the raise is stamped after the acknowledgement.
    row = Stored(4, "acked", t(10), Ack(t(9)))
    assert summary(plan([row], [up(10)]).episodes) == [(t(10), t(10), 1, None, "acked", t(10))]


HISTORY = [up(1, cell=2), down(3), up(4, cell=5), up(6, cell=5), down(7), up(9, cell=1)]


@given(order=st.permutations(HISTORY + HISTORY[:2]))
def test_every_order_of_the_same_marks_gives_the_same_rows(order: list[Mark]) -> None:
    acked = Stored(1, "acked", t(1), Ack(t(5)))
    assert plan([acked], order) == plan([acked], HISTORY)
    assert replay(order, []) == replay(HISTORY, [])
