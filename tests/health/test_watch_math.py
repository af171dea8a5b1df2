"""The watch list's pure math: robust scores, Theil-Sen, CUSUM and the ranking."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.health.robust import SCORE_CAP, deviation_scores, robust_scale
from app.health.trend import cusum_high, theil_sen_slopes
from app.health.watchlist import LEAK, LOAD, REST, CellKey, WatchSettings, rank_cells

volts = st.floats(min_value=2.5, max_value=3.65, allow_nan=False)
modules = st.lists(volts, min_size=3, max_size=24)


def test_scores_by_hand() -> None:
    # median 3.302 V; deviations 2, 1, 0, 1, 48 mV; their median 1 mV -> scale 1.4826 mV
    scores = deviation_scores([3.300, 3.301, 3.302, 3.303, 3.350])
    assert scores[:4] == pytest.approx([2 / 1.4826, 1 / 1.4826, 0.0, 1 / 1.4826], rel=1e-6)
    assert scores[4] == SCORE_CAP  # 32 spreads out, capped
    assert robust_scale([3.3, 3.3, 3.3]) == 0.001  # no spread: the BMU's resolution


@given(modules)
def test_scores_are_bounded(cells: list[float]) -> None:
    assert all(0.0 <= s <= SCORE_CAP for s in deviation_scores(cells))


@given(modules, st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_cell_order(cells: list[float], rnd: object) -> None:
    order = list(range(len(cells)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    shuffled = deviation_scores([cells[i] for i in order])
    assert shuffled == pytest.approx([deviation_scores(cells)[i] for i in order])


@given(modules, st.floats(min_value=-0.5, max_value=0.5), st.floats(min_value=1.0, max_value=8.0))
def test_scores_ignore_the_module_level_and_the_size_of_its_spread(
    cells: list[float], shift: float, stretch: float
) -> None:
    """What SoC and temperature do to a whole module (move it, widen it) leaves scores alone."""
    centre = float(np.median(cells))
    moved = [centre + shift + (v - centre) * stretch for v in cells]
    tiny = 1e-12
    assert deviation_scores(moved, floor=tiny) == pytest.approx(
        deviation_scores(cells, floor=tiny), rel=1e-6, abs=1e-6
    )


def test_theil_sen_ignores_an_outlier_and_missing_days() -> None:
    days = np.arange(10, dtype=np.float64)
    line = 0.5 * days + 2.0
    line[3] = 40.0  # one wild day
    line[6] = np.nan  # one missing day
    assert theil_sen_slopes(line[None, :], days)[0] == pytest.approx(0.5)
    assert np.isnan(theil_sen_slopes(np.array([[np.nan, 1.0]]), np.array([0.0, 1.0]))[0])


@given(
    st.lists(st.floats(min_value=-10, max_value=10), min_size=2, max_size=15),
    st.randoms(use_true_random=False),
)
def test_theil_sen_is_order_independent_and_within_the_pairwise_slopes(
    ys: list[float], rnd: object
) -> None:
    days = np.arange(len(ys), dtype=np.float64)
    values = np.array(ys)
    slope = theil_sen_slopes(values[None, :], days)[0]
    order = list(range(len(ys)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    assert theil_sen_slopes(values[order][None, :], days[order])[0] == pytest.approx(slope)
    pairs = [(ys[j] - ys[i]) / (j - i) for i in range(len(ys)) for j in range(i + 1, len(ys))]
    assert min(pairs) - 1e-9 <= slope <= max(pairs) + 1e-9


def test_cusum_by_hand() -> None:
    # steps vs baseline 1 and slack 0.5: -0.5, -0.5, 1.5, 1.5, -0.5 -> 0, 0, 1.5, 3.0, 2.5
    scores = np.array([[1.0, 1.0, 3.0, 3.0, 1.0]])
    assert cusum_high(scores, np.array([1.0]), 0.5)[0] == pytest.approx(3.0)


def cells_matrix() -> tuple[list[CellKey], np.ndarray, np.ndarray, np.ndarray]:
    days = np.arange(21, dtype=np.float64)
    keys = [CellKey(1, c) for c in range(1, 5)]
    load = np.vstack(
        [
            np.full(21, 0.7),
            np.full(21, 6.0),  # healthy; persistently out (flat)
            0.7 + 0.2 * days,
            np.full(21, 0.6),
        ]
    )  # rising 0.2 spreads a day; healthy
    rest = np.full((4, 21), 0.5)
    rest[3] = 0.5 + 0.1 * days  # rising at rest only
    return keys, load, rest, days


def test_a_rising_cell_outranks_one_that_is_far_out_but_steady() -> None:
    keys, load, rest, days = cells_matrix()
    ranked = rank_cells(keys, {LOAD: load, REST: rest}, days, WatchSettings())
    assert [(e.cell, e.regime) for e in ranked[:2]] == [(3, LOAD), (4, REST)]
    assert ranked[0].score == pytest.approx(0.2 * 20)
    assert ranked[0].level == pytest.approx(0.7 + 0.2 * 20)
    assert ranked[0].score > WatchSettings().alarm_score > ranked[2].score


def test_ranking_does_not_depend_on_row_order_and_keeps_the_top() -> None:
    keys, load, rest, days = cells_matrix()
    order = [2, 0, 3, 1]
    first = rank_cells(keys, {LOAD: load, REST: rest}, days, WatchSettings(keep=3))
    second = rank_cells(
        [keys[i] for i in order],
        {LOAD: load[order], REST: rest[order]},
        days,
        WatchSettings(keep=3),
    )
    assert first == second
    assert len(first) == 3


def test_too_few_days_give_no_entry() -> None:
    keys, load, rest, days = cells_matrix()
    load[:, 5:] = np.nan
    rest[:, 5:] = np.nan
    assert rank_cells(keys, {LOAD: load, REST: rest}, days, WatchSettings()) == []
    with pytest.raises(ValueError, match="min_days"):
        WatchSettings(min_days=31)


def test_apparent_leakage_ranks_by_its_recent_level_not_its_rise() -> None:
    """A leak the balancing can no longer follow stops rising: its size still ranks it."""
    days = np.arange(21, dtype=np.float64)
    keys = [CellKey(1, 1), CellKey(1, 2)]
    leak = np.vstack([np.full(21, 5.8), np.full(21, -2.0)])  # 58 mA flat; bled more than most
    flat = np.full((2, 21), 0.5)
    ranked = rank_cells(keys, {LOAD: flat, REST: flat, LEAK: leak}, days, WatchSettings())
    assert (ranked[0].cell, ranked[0].regime) == (1, LEAK)
    assert ranked[0].score == pytest.approx(5.8)
    assert ranked[1].score == 0.0  # a cell bled more than its neighbours leaks nothing extra


def test_a_young_record_is_not_stretched_over_the_whole_window() -> None:
    """Seven days rising 0.2 a day rise 1.2, not 0.2 x the window's 29 days."""
    days = np.arange(30, dtype=np.float64)
    young = np.full((1, 30), np.nan)
    young[0, 23:] = 0.5 + 0.2 * np.arange(7)
    flat = np.full((1, 30), np.nan)
    (entry,) = rank_cells([CellKey(1, 1)], {LOAD: young, REST: flat}, days, WatchSettings())
    assert entry.score == pytest.approx(1.2)
