"""Isolations from contactor feedback: pure logic, every order of the same feedback."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.isolations.intervals import Feedback, Interval, StoredIsolation, intervals, reconcile

T = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def t(seconds: float) -> datetime:
    """T + seconds."""
    return T + timedelta(seconds=seconds)


def test_isolations_follow_feedback_by_its_own_times() -> None:
    feedback = [
        Feedback(t(6), False),
        Feedback(t(1.5), True),
        Feedback(t(9), True),
        Feedback(t(2), True),
        Feedback(t(0.5), False),
    ]
    assert intervals(feedback) == [Interval(t(1.5), t(6)), Interval(t(9), None)]


@given(
    order=st.permutations(
        [
            Feedback(t(1), True),
            Feedback(t(3), False),
            Feedback(t(4), True),
            Feedback(t(4), True),
            Feedback(t(2), False),
        ]
    )
)
def test_every_order_of_the_same_feedback_gives_the_same_isolations(
    order: list[Feedback],
) -> None:
    assert intervals(order) == [Interval(t(1), t(2)), Interval(t(4), None)]


def test_stored_isolations_are_matched_moved_split_and_deduplicated() -> None:
    rows = [StoredIsolation(1, t(3), None), StoredIsolation(2, t(3.5), None)]
    found = [Interval(t(1), t(2)), Interval(t(2.5), None)]  # an earlier opening arrived late
    result = reconcile(rows, found)
    assert result.changed == [(1, Interval(t(2.5), None))]
    assert result.new == [Interval(t(1), t(2))]
    assert result.duplicates == [2]
