"""The health page's score-history sparkline, by hand."""

from datetime import UTC, datetime, timedelta

from app.health.queries import ScorePoint
from app.web.health import sparkline

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
