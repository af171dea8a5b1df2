"""The weak-cell watch list: rank cells by how fast they leave their module, per regime.

Input is each cell's daily score over a window of days in three regimes: the mean robust
deviation (see robust.py) under load and at rest, and the apparent self-discharge from
balancing duty in units of `leak_unit_ma`. A healthy cell may sit permanently a little out of
the pack (a slightly higher resistance from the factory); a weak cell moves. So the ranking
score is the rise of the Theil-Sen trend line across the window, taken from whichever regime
rises most; the CUSUM over the window's first-week baseline is kept as evidence.
"""

from dataclasses import dataclass

import numpy as np

from app.health.trend import Matrix, Vector, baseline_levels, cusum_high, theil_sen_slopes

LOAD, REST, LEAK = "load", "rest", "leak"
REGIMES = (LOAD, REST, LEAK)
LEVEL_REGIMES = (LEAK,)  # ranked by their recent level, the others by their trend
CHUNK_ROWS = 2048  # pairwise slopes take rows x days^2 floats: bound the memory per step


@dataclass(frozen=True)
class WatchSettings:
    """How the watch list is computed (defaults documented in docs/HEALTH.md)."""

    window_days: int = 30  # the trend looks back this far (14-30 make sense)
    baseline_days: int = 7  # the window's first days set the CUSUM's reference level
    min_days: int = 7  # fewer scored days than this give no trend
    cusum_slack: float = 0.5  # module spreads a day a score may wander without accumulating
    alarm_score: float = 3.0  # a rise of this many module spreads is worth an alarm
    keep: int = 50  # entries stored per site and day
    leak_unit_ma: float = 10.0  # apparent leakage counts one score unit per this many mA

    def __post_init__(self) -> None:
        if not 2 <= self.min_days <= self.window_days:
            raise ValueError(f"min_days must be 2..window_days, got {self.min_days}")


@dataclass(frozen=True)
class CellKey:
    """A cell: its module's id and its 1-based place in the module."""

    module_id: int
    cell: int


@dataclass(frozen=True)
class WatchEntry:
    """One cell's place on the watch list and the evidence for it."""

    module_id: int
    cell: int
    score: float  # the trend's rise across the window (leak: the recent level), in units
    regime: str  # "load", "rest" or "leak": where the rise is steepest
    slope_per_day: float
    cusum: float
    level: float  # the latest day's score in that regime
    days: int  # scored days in the window for that regime


@dataclass(frozen=True)
class RegimeTrend:
    """Per cell, one regime's trend figures over the window."""

    score: Vector  # what ranks: the trend's rise, or the recent level for a level regime
    slope: Vector
    cusum: Vector
    level: Vector
    days: Vector


def regime_trend(
    scores: Matrix, days: Vector, settings: WatchSettings, *, by_level: bool = False
) -> RegimeTrend:
    """Score, Theil-Sen slope, CUSUM and latest level per cell; NaN score with too few days.

    The score is the rise of the trend across the window, or with `by_level` the median of the
    last `baseline_days` days (never below 0): apparent leakage matters by its size, and it
    stops rising once the balancing cannot keep up with it any more.
    """
    counts = (~np.isnan(scores)).sum(axis=1).astype(np.float64)
    slopes = np.concatenate(
        [
            theil_sen_slopes(scores[i : i + CHUNK_ROWS], days)
            for i in range(0, scores.shape[0], CHUNK_ROWS)
        ]
        or [np.zeros(0)]
    )
    present = ~np.isnan(scores)
    # the rise across the days each cell has, not the whole window: a young record is not
    # stretched over days it never saw
    first = np.where(present.any(axis=1), np.argmax(present, axis=1), 0)
    last = scores.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1) if scores.shape[1] else first
    span = days[last] - days[first] if len(days) else np.zeros(scores.shape[0])
    if by_level:
        recent = baseline_levels(scores[:, -settings.baseline_days :], settings.baseline_days)
        ranked = np.maximum(recent, 0.0)
    else:
        ranked = slopes * span
    score = np.where(counts >= settings.min_days, ranked, np.nan)
    baseline = baseline_levels(scores, settings.baseline_days)
    cusum = cusum_high(scores, np.nan_to_num(baseline, nan=0.0), settings.cusum_slack)
    return RegimeTrend(score, slopes, cusum, _latest(scores), counts)


def _latest(scores: Matrix) -> Vector:
    """Per row, the last non-NaN score (NaN when there is none)."""
    present = ~np.isnan(scores)
    last = scores.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    values = scores[np.arange(scores.shape[0]), last] if scores.shape[1] else np.zeros(0)
    return np.where(present.any(axis=1), values, np.nan)


def rank_cells(
    keys: list[CellKey], regimes: dict[str, Matrix], days: Vector, settings: WatchSettings
) -> list[WatchEntry]:
    """The `settings.keep` cells with the highest score, highest first (ties by place)."""
    trends = {
        name: regime_trend(scores, days, settings, by_level=name in LEVEL_REGIMES)
        for name, scores in regimes.items()
    }
    entries = []
    for row, key in enumerate(keys):
        picked = max(
            ((name, t) for name, t in trends.items() if not np.isnan(t.score[row])),
            key=lambda item: item[1].score[row],
            default=None,
        )
        if picked is None:
            continue
        name, trend = picked
        entries.append(
            WatchEntry(
                key.module_id,
                key.cell,
                float(trend.score[row]),
                name,
                float(trend.slope[row]),
                float(trend.cusum[row]),
                float(trend.level[row]),
                int(trend.days[row]),
            )
        )
    entries.sort(key=lambda e: (-e.score, e.module_id, e.cell))
    return entries[: settings.keep]
