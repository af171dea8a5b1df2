"""Trend data for the charts: columns as arrays for uPlot, with gaps written as nulls."""

from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import Any, Literal

from app.core.windows import WINDOWS
from app.telemetry.queries import Series

TrendRange = Literal["1h", "24h", "7d", "30d"]
RANGES = WINDOWS  # the trend charts offer every window
CHART_POINTS = 800
USUAL_RANGE = "24h"


def default_range(*, last: datetime | None, first_today: datetime | None, now: datetime) -> str:
    """The range a chart opens with: 24 h, unless that would show a sliver or nothing.

    `last` is the newest sample; `first_today` the oldest within the last 24 h. Data younger
    than an hour opens on 1 h; data that stopped more than 24 h ago opens on the shortest range
    that still reaches it.
    """
    if last is None:
        return USUAL_RANGE
    if now - last > WINDOWS[USUAL_RANGE]:
        reaching = [key for key, span in WINDOWS.items() if now - last <= span]
        return reaching[0] if reaching else "30d"
    if first_today is not None and now - first_today <= WINDOWS["1h"]:
        return "1h"
    return USUAL_RANGE


def day_ago(now: datetime) -> datetime:
    """The start of the usual range."""
    return now - timedelta(hours=24)


def _gap_after(times: list[float], bucket_s: float) -> float:
    """A step longer than this is missing data: twice the usual step, or bucket if longer."""
    steps = [b - a for a, b in pairwise(times)]
    usual = median(steps) if steps else bucket_s
    return 2.0 * max(usual, bucket_s)


def series_json(series: Series, start: datetime, end: datetime) -> dict[str, Any]:
    """{"x": [epoch s...], "<column>": [...], ...}; a null row marks each gap so it stays a gap."""
    times = [row[0].timestamp() for row in series.rows]
    gap = _gap_after(times, series.bucket_s)
    columns: dict[str, list[Any]] = {name: [] for name in series.columns}
    previous: float | None = None
    for when, row in zip(times, series.rows, strict=True):
        if previous is not None and when - previous > gap:
            for name in series.columns:
                columns[name].append(None if name != "ts" else previous + series.bucket_s)
        for name, value in zip(series.columns, row, strict=True):
            columns[name].append(when if name == "ts" else value)
        previous = when
    x = columns.pop("ts")
    return {
        "x": x,
        "start": start.timestamp(),
        "end": end.timestamp(),
        "source": series.source,
        "bucket_s": series.bucket_s,
        **columns,
    }
