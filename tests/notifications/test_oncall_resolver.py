"""Who is on call: the resolver against a minute-by-minute oracle, and across DST and midnight."""

from datetime import UTC, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.notifications.oncall import Roster, Shift, on_call_now

WEEK_MINUTES = 7 * 1440
# Zones with northern and southern DST, a 45-minute offset, a half-hour DST and none at all.
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
)
# Every second from 2000 to 2037, as aware UTC instants.
INSTANTS = st.integers(946_684_800, 2_145_916_799).map(lambda s: datetime.fromtimestamp(s, UTC))


def _clock(minute_of_day: int) -> time:
    return time(minute_of_day // 60, minute_of_day % 60)


def _shift(user: int, start: int, length: int) -> Shift:
    """A shift from minute `start` of the week lasting `length` (< 1440) minutes."""
    start %= WEEK_MINUTES
    return Shift(user, start // 1440, _clock(start % 1440), _clock((start + length) % 1440))


def _oracle(shifts: list[tuple[int, int, int]], at: datetime, zone: str) -> set[int]:
    """Fill the week's minutes shift by shift, then read the local minute of `at`."""
    week: list[set[int]] = [set() for _ in range(WEEK_MINUTES)]
    for user, start, length in shifts:
        for minute in range(start, start + length):
            week[minute % WEEK_MINUTES].add(user)
    local = at.astimezone(Roster(0, "", zone, ()).zone_info())
    return week[local.weekday() * 1440 + local.hour * 60 + local.minute]


SHIFTS = st.lists(
    st.tuples(
        st.integers(1, 5),
        st.integers(0, WEEK_MINUTES - 1),
        st.integers(1, 1439),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(shifts=SHIFTS, zone=st.sampled_from(ZONES), at=INSTANTS)
def test_the_resolver_agrees_with_a_minute_by_minute_week(
    shifts: list[tuple[int, int, int]], zone: str, at: datetime
) -> None:
    roster = Roster(1, "r", zone, tuple(_shift(*s) for s in shifts))
    assert roster.on_call(at) == _oracle(shifts, at, zone)


@settings(max_examples=300, deadline=None)
@given(
    cuts=st.sets(st.integers(0, WEEK_MINUTES - 1), min_size=1, max_size=10),
    zone=st.sampled_from(ZONES),
    at=INSTANTS,
)
def test_a_roster_covering_the_week_has_exactly_one_person_on_call_at_every_instant(
    cuts: set[int], zone: str, at: datetime
) -> None:
    """Even inside a DST gap or the repeated hour: each instant has one local wall time."""
    ordered = sorted(cuts)
    shifts = []
    for user, start in enumerate(ordered):
        end = ordered[(user + 1) % len(ordered)] + (WEEK_MINUTES if user + 1 == len(ordered) else 0)
        for piece in range(start, end, 1000):  # shifts under a day, many past midnight
            shifts.append(_shift(user, piece, min(1000, end - piece)))
    assert len(Roster(1, "r", zone, tuple(shifts)).on_call(at)) == 1


def _minutes_on_call(roster: Roster, start: datetime, hours: int) -> int:
    """Real minutes (UTC) in which someone is on call, from `start` for `hours`."""
    minutes = (start + timedelta(minutes=m) for m in range(hours * 60))
    return sum(1 for at in minutes if roster.on_call(at))


def test_a_night_shift_over_a_dst_change_follows_the_wall_clock() -> None:
    """Saturday 22:00 to Sunday 06:00 in Berlin: 7 real hours in March, 9 in October."""
    night = Roster(1, "nights", "Europe/Berlin", (Shift(7, 5, time(22), time(6)),))
    spring = datetime(2026, 3, 28, 18, tzinfo=UTC)  # DST starts 2026-03-29 01:00 UTC
    autumn = datetime(2026, 10, 24, 18, tzinfo=UTC)  # DST ends 2026-10-25 01:00 UTC
    plain = datetime(2026, 6, 13, 18, tzinfo=UTC)
    assert _minutes_on_call(night, spring, 16) == 7 * 60
    assert _minutes_on_call(night, autumn, 16) == 9 * 60
    assert _minutes_on_call(night, plain, 16) == 8 * 60
    # 05:59 local on the autumn Sunday (04:59 UTC, after the change) is still the night shift.
    assert night.on_call(datetime(2026, 10, 25, 4, 59, tzinfo=UTC)) == {7}
    assert night.on_call(datetime(2026, 10, 25, 5, 0, tzinfo=UTC)) == set()


def test_sundays_night_shift_ends_on_monday_morning_and_zones_differ() -> None:
    sunday_night = Shift(3, 6, time(20), time(8))
    sydney = Roster(1, "au", "Australia/Sydney", (sunday_night,))
    new_york = Roster(2, "us", "America/New_York", (sunday_night,))
    monday_7_sydney = datetime(2026, 6, 14, 21, tzinfo=UTC)  # Mon 07:00 AEST, Sun 17:00 EDT
    assert sydney.on_call(monday_7_sydney) == {3}
    assert new_york.on_call(monday_7_sydney) == set()
    assert on_call_now([sydney, new_york], [2], monday_7_sydney) == set()
    assert on_call_now([sydney, new_york], [1, 2, 99], monday_7_sydney) == {3}
    assert sydney.on_call(datetime(2026, 6, 14, 22, tzinfo=UTC)) == set()  # Mon 08:00 AEST
