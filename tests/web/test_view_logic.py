"""Pure view logic: site state, heatmap shading and marks, trend gaps, cell bars."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.fleet.overview import SiteOverview, SiteState
from app.telemetry.queries import ModuleNow, Series
from app.telemetry.schemas import QUALITY_BYPASSED
from app.web.assets import cell_bars
from app.web.heatmap import build_heatmap
from app.web.trends import default_range, series_json

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SITE = SiteOverview(
    1, "s", "S", 100.0, 200.0, 4, 4, 0, 0, 4.0, 50.0, 10.0, NOW, 8, 5.0, 0, 0, 0, 0, 0
)


def test_site_state_by_severity() -> None:
    assert SITE.state(NOW) is SiteState.NORMAL
    assert replace(SITE, modules_bypassed=1).state(NOW) is SiteState.DEGRADED
    assert replace(SITE, strings_derated=1).state(NOW) is SiteState.DEGRADED
    assert replace(SITE, strings_closed=3, strings_derated=1).state(NOW) is SiteState.ISOLATED
    assert replace(SITE, strings_closed=0).state(NOW) is SiteState.TRIPPED
    stale = replace(SITE, last_data_at=NOW - timedelta(minutes=2), strings_closed=0)
    assert stale.state(NOW) is SiteState.OFFLINE
    assert replace(SITE, last_data_at=None).state(NOW) is SiteState.OFFLINE
    assert replace(SITE, capacity_online=3.5).capacity_online_pct == 87.5


def module(
    position: int, avg: float | None, spread: float | None, **extra: object
) -> dict[str, object]:
    """A latest-state row as site_latest returns it."""
    row: dict[str, object] = {
        "string": 1,
        "position": position,
        "module_id": 100 + position,
        "ts": NOW,
        "soc_pct": 50.0,
        "soh_pct": 99.0,
        "cell_v_min": None,
        "cell_v_max": None,
        "cell_v_avg": avg,
        "spread_mv": spread,
        "temp_c_max": 25.0,
        "fault_bits": 0,
        "balancing": 0,
        "quality": 0,
    }
    row.update(extra)
    return row


def test_heatmap_shades_by_value_and_marks_abnormal_modules() -> None:
    modules = [
        module(1, 3.30, 2.0),
        module(2, 3.31, 6.0, quality=QUALITY_BYPASSED),
        module(3, None, None, ts=None),
        module(4, 3.32, 10.0, ts=NOW - timedelta(minutes=5)),
    ]
    heat = build_heatmap(modules, "spread", {102: 2}, NOW)
    cells = heat.rows[0][1]
    assert (heat.low, heat.high) == (2.0, 10.0)
    assert [c.level for c in cells] == [0.0, 0.5, None, 1.0]
    assert cells[1].marks == "alarm-2 bypassed"
    assert cells[1].notes == "high-priority alarm, bypassed"
    assert cells[2].marks == "stale"
    assert cells[2].notes == "stale data"
    assert cells[2].text == "no data"
    assert cells[3].marks == "stale"


def test_deviation_is_centred_on_the_site_mean() -> None:
    modules = [module(n, avg, 1.0) for n, avg in enumerate((3.30, 3.31, 3.32, 3.31), start=1)]
    heat = build_heatmap(modules, "deviation", {}, NOW)
    cells = heat.rows[0][1]
    # Site mean 3.31 V: the shade is the distance from it, the side a class of its own.
    levels = [round(c.level or 0.0, 9) for c in cells]
    assert levels == [1.0, 0.0, 1.0, 0.0]
    assert [c.marks for c in cells] == ["below", "", "", ""]
    assert cells[0].text == "-10.0 mV"
    assert heat.low is not None
    assert heat.high is not None
    assert abs(heat.low + 10.0) < 1e-6
    assert abs(heat.high - 10.0) < 1e-6


def test_gaps_in_a_series_become_one_null() -> None:
    start = NOW - timedelta(hours=1)
    times = [start + timedelta(seconds=5 * i) for i in range(5)]
    times += [start + timedelta(minutes=30, seconds=5 * i) for i in range(5)]
    series = Series("raw", 2.4, ("ts", "spread_mv"), [(t, 3.0) for t in times])
    data = series_json(series, start, NOW)
    assert data["spread_mv"] == [3.0] * 5 + [None] + [3.0] * 5
    assert len(data["x"]) == 11
    steady = Series("raw", 2.4, ("ts", "spread_mv"), [(t, 3.0) for t in times[:5]])
    assert None not in series_json(steady, start, NOW)["spread_mv"]


REGISTRY: dict[str, Any] = {
    "id": 1,
    "position": 1,
    "cell_count": 3,
    "temp_count": 0,
    "chemistry": "LFP",
    "capacity_ah": 280.0,
    "serial": None,
    "firmware": None,
    "rack_id": 1,
    "string": 1,
    "string_name": "String 1",
}


def module_now(**latest: Any) -> ModuleNow:
    """A three-cell module with the given latest values (the rest empty)."""
    registry = REGISTRY
    empty = dict.fromkeys(f for f in ModuleNow.__dataclass_fields__ if f not in registry)
    return ModuleNow(**{**registry, **empty, **latest})


def test_cell_bars_mark_min_max_and_balancing() -> None:
    row = module_now(cell_v=[3.30, 3.35, 3.28], min_idx=2, max_idx=1, balancing=0b010)
    bars = cell_bars(row)
    assert [(b.is_min, b.is_max, b.balancing) for b in bars] == [
        (False, False, False),
        (False, True, True),
        (True, False, False),
    ]
    assert bars[1].height > bars[0].height > bars[2].height
    assert 0 < bars[2].height < bars[1].height < 1
    assert cell_bars(module_now()) == []


def test_trends_open_on_a_range_that_shows_the_data() -> None:
    def opens(last: timedelta | None, first_today: timedelta | None) -> str:
        return default_range(
            last=None if last is None else NOW - last,
            first_today=None if first_today is None else NOW - first_today,
            now=NOW,
        )

    assert opens(None, None) == "24h"  # no data at all: the usual range
    assert opens(timedelta(seconds=5), timedelta(hours=20)) == "24h"
    assert opens(timedelta(seconds=5), timedelta(minutes=40)) == "1h"  # a site that just started
    assert opens(timedelta(days=3), None) == "7d"  # an offline site: where its data stops
    assert opens(timedelta(days=12), None) == "30d"
    assert opens(timedelta(days=90), None) == "30d"
