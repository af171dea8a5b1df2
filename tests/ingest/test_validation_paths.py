"""The bulk check of a batch's module rows agrees with the row-by-row check on every batch."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.ingest.asset_map import ModuleAsset, SiteAssets
from app.ingest.fast_decode import FastModuleRow
from app.ingest.parsing import ModuleFields
from app.ingest.validation import (
    TimeBounds,
    Validated,
    _clean_modules,
    _modules_row_by_row,
    _time_check,
)

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
BOUNDS = TimeBounds(earliest=T0 - timedelta(minutes=30), latest=T0 + timedelta(seconds=5))
# Two strings of four modules; string 2 has 12-cell modules with 2 sensors.
ASSETS = SiteAssets(
    site_id=1,
    racks={1: 11, 2: 12},
    modules={
        (s, m): ModuleAsset(100 * s + m, 10 + s, 16 if s == 1 else 12, 4 if s == 1 else 2)
        for s in (1, 2)
        for m in range(1, 5)
    },
)


FAULTS = ("string", "module", "cells", "sensors", "future", "past")
OFF_BY = {"future": 60, "past": -3600}  # seconds from T0, outside the bounds


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[int, ModuleFields]]:
    """Module rows that are mostly right, some wrong in one of the ways checked; a module may
    appear twice, at the same time or at another."""
    rows: list[tuple[int, ModuleFields]] = []
    for index in range(draw(st.integers(0, 10))):
        fault = draw(st.sampled_from((None,) * 12 + FAULTS))
        string = 3 if fault == "string" else draw(st.sampled_from([1, 2]))
        module = 5 if fault == "module" else draw(st.integers(1, 4))
        cells = (16 if string == 1 else 12) + (
            draw(st.sampled_from([1, -1])) if fault == "cells" else 0
        )
        most = 4 if string == 1 else 2
        sensors = most + 1 if fault == "sensors" else draw(st.integers(0, most))
        seconds = OFF_BY.get(fault or "", draw(st.sampled_from([0, 0, 1])))
        row = FastModuleRow(
            ts=T0 + timedelta(seconds=seconds),
            string=string,
            module=module,
            cell_v=[3.3] * cells,
            temp_c=[25.0] * sensors,
        )
        rows.append((index, row))
    return rows


@settings(max_examples=400, deadline=None)
@given(rows=batches())
def test_bulk_check_accepts_exactly_the_batches_with_no_refused_row(
    rows: list[tuple[int, ModuleFields]],
) -> None:
    checked = Validated()
    out_of_bounds = _time_check(checked, BOUNDS)
    one_by_one = _modules_row_by_row(checked, rows, ASSETS, out_of_bounds)
    bulk = _clean_modules(rows, ASSETS, BOUNDS)

    if checked.rejections:
        assert bulk is None
    else:
        assert bulk == one_by_one
