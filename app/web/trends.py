"""Trend data for the charts: columns as arrays for uPlot, with gaps written as nulls."""

from datetime import datetime
from itertools import pairwise
from statistics import median
from typing import Any, Literal

from app.core.windows import WINDOWS
from app.telemetry.queries import Series

TrendRange = Literal["1h", "24h", "7d", "30d"]
RANGES = WINDOWS  # the trend charts offer every window
CHART_POINTS = 800


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
