"""Accepted wire rows become column blocks whose derived values match a plain computation."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.ingest.asset_map import ModuleAsset
from app.ingest.fast_decode import FastModuleRow
from app.ingest.samples import module_samples
from app.telemetry.schemas import QUALITY_BYPASSED

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
volts = st.floats(0.0, 5.0)
optional = st.none() | st.floats(-100.0, 100.0)


@st.composite
def rows(draw: st.DrawFn) -> list[tuple[FastModuleRow, ModuleAsset]]:
    """Rows of up to two module shapes, over two strings and up to three times."""
    shapes = draw(
        st.lists(st.tuples(st.integers(1, 24), st.integers(0, 6)), min_size=1, max_size=2)
    )
    pairs = []
    for n in range(draw(st.integers(1, 30))):
        cells, sensors = draw(st.sampled_from(shapes))
        row = FastModuleRow(
            ts=T0 + timedelta(seconds=draw(st.integers(0, 2))),
            string=1 + n % 2,
            module=1 + n // 2,
            cell_v=draw(st.lists(volts, min_size=cells, max_size=cells)),
            temp_c=draw(st.lists(st.floats(-40, 125), min_size=sensors, max_size=sensors)),
            soc_pct=draw(st.none() | st.floats(0, 100)),
            soh_pct=draw(st.none() | st.floats(0, 100)),
            voltage_v=draw(st.none() | st.floats(0, 1500)),
            current_a=draw(optional),
            balancing=draw(st.integers(0, 2**63 - 1)),
            fault_bits=draw(st.integers(0, 2**63 - 1)),
            status_bits=draw(st.integers(0, 2**31 - 1)),
            bypassed=draw(st.none() | st.booleans()),
            quality=draw(st.integers(0, 0xFF)),
        )
        pairs.append((row, ModuleAsset(100 + n, 10 + n % 2, cells, sensors)))
    return pairs


def expected(row: FastModuleRow, asset: ModuleAsset) -> dict[str, Any]:
    """The storage row computed one value at a time."""
    cells = [v for v in row.cell_v if v is not None]  # the random rows have no null cells
    return {
        "module_id": asset.module_id,
        "ts": row.ts,
        "soc_pct": row.soc_pct,
        "soh_pct": row.soh_pct,
        "current_a": row.current_a,
        "voltage_v": row.voltage_v,
        "cell_v": cells,
        "cell_v_min": min(cells),
        "cell_v_max": max(cells),
        "cell_v_min_idx": cells.index(min(cells)),
        "cell_v_max_idx": cells.index(max(cells)),
        "temp_c": row.temp_c,
        "temp_c_max": max(row.temp_c) if row.temp_c else None,
        "balancing": row.balancing,
        "status_bits": row.status_bits,
        "fault_bits": row.fault_bits,
        "quality": row.quality | (QUALITY_BYPASSED if row.bypassed else 0),
    }


@settings(max_examples=200, deadline=None)
@given(accepted=rows())
def test_blocks_hold_each_row_with_its_derived_values(
    accepted: list[tuple[FastModuleRow, ModuleAsset]],
) -> None:
    samples, ranges = module_samples(accepted)

    assert len(samples) == len(accepted)
    stored = sorted(samples, key=lambda s: (s.module_id, s.ts))
    wanted = sorted((expected(r, a) for r, a in accepted), key=lambda e: (e["module_id"], e["ts"]))
    for sample, want in zip(stored, wanted, strict=True):
        mean = sum(want["cell_v"]) / len(want["cell_v"])
        assert abs(sample.cell_v_avg - mean) <= 0.00005 + 1e-12  # the mean to 0.1 mV
        got = {k: getattr(sample, k) for k in want}
        assert got == want
    # Each string's cell range at each time covers exactly its modules' cells then.
    for (rack, ts), (low, high) in ranges.items():
        cells = [
            v
            for r, a in accepted
            if a.rack_id == rack and r.ts == ts
            for v in r.cell_v
            if v is not None
        ]
        assert (low, high) == (min(cells), max(cells))
    assert set(ranges) == {(a.rack_id, r.ts) for r, a in accepted}
