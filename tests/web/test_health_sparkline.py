"""The health page's score-history sparkline, by hand."""

from datetime import UTC, datetime, timedelta

from app.health.queries import ScorePoint
from app.web.health import OffsetChart, offset_chart, sparkline

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def points(*loads: float | None, leak: float | None = None) -> list[ScorePoint]:
    return [ScorePoint(DAY + timedelta(days=i), v, None, leak) for i, v in enumerate(loads)]


def test_the_regimes_values_fill_the_box_left_to_right() -> None:
    # 160 x 32 box, three days 80 px apart, 0..2 spreads bottom to top
    assert sparkline(points(0.0, 1.0, 2.0), "load") == "0.0,32.0 80.0,16.0 160.0,0.0"


def test_gaps_stay_gaps_and_too_little_draws_nothing() -> None:
    assert sparkline(points(0.5, None, 0.5), "load") == "0.0,16.0 160.0,16.0"
    assert sparkline(points(1.0, None), "load") == ""
    assert sparkline(points(1.0, 2.0, leak=-1.0), "leak") == "0.0,32.0 160.0,32.0"


def offsets(rest: list[float | None], discharge: list[float | None]) -> list[ScorePoint]:
    return [
        ScorePoint(DAY + timedelta(days=i), None, None, None, r, d)
        for i, (r, d) in enumerate(zip(rest, discharge, strict=True))
    ]


def test_a_load_entry_shows_its_discharge_offsets_against_the_median_line() -> None:
    # -20..+5 mV in 32 px: the median (0 mV) runs 6.4 px from the top
    chart = offset_chart(offsets([1.0, 1.0, 1.0], [0.0, -10.0, -20.0]), "load")
    assert chart == OffsetChart("0.0,6.4 80.0,19.2 160.0,32.0", 6.4, -20.0)


def test_rest_and_leak_entries_show_rest_offsets_within_at_least_5_mv() -> None:
    history = offsets([2.0, None, -2.0], [-30.0, -30.0, -30.0])
    for regime in ("rest", "leak"):
        # +-5 mV floor: the median in the middle, 2 mV = 6.4 px
        assert offset_chart(history, regime) == OffsetChart("0.0,9.6 160.0,22.4", 16.0, -2.0)
    assert offset_chart(offsets([None, 1.0], [None, None]), "rest") == OffsetChart("", 16.0, 1.0)
