"""Accepted module rows of a batch become column blocks, with each string's cell range.

A batch holds thousands of rows, so each column is read from the rows in one pass of
C-level iterators (`map` over an attribute getter, packed by `struct`) rather than a Python loop.
"""

from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np

from app.ingest.asset_map import ModuleAsset
from app.ingest.parsing import ModuleFields
from app.telemetry.module_block import (
    ModuleBlock,
    ModuleSamples,
    by_shape,
    derived_block,
    floats,
    from_timestamp_us,
    packed,
    timestamp_us,
)
from app.telemetry.schemas import QUALITY_BYPASSED

# (rack id, time) -> (lowest, highest) cell voltage of the string's modules then.
CellRanges = dict[tuple[int, datetime], tuple[float, float]]
Accepted = tuple[ModuleFields, ModuleAsset]
_SCALARS = ("soc_pct", "soh_pct", "current_a", "voltage_v")
_BITS = ("balancing", "status_bits", "fault_bits", "quality")
_ROW, _ASSET = itemgetter(0), itemgetter(1)
_CELL_V, _TEMP_C, _TS, _BYPASSED = (attrgetter(n) for n in ("cell_v", "temp_c", "ts", "bypassed"))
_MODULE_ID, _RACK_ID = attrgetter("module_id"), attrgetter("rack_id")


def module_samples(accepted: Sequence[Accepted]) -> tuple[ModuleSamples, CellRanges]:
    """The accepted rows as blocks (one per module shape) and the cell range per string."""
    blocks: list[ModuleBlock] = []
    ranges: CellRanges = {}
    for pairs in by_shape(accepted, _ROW):
        block, rack_ids = _block(pairs)
        blocks.append(block)
        for key, (low, high) in _cell_ranges(block, rack_ids).items():
            old_low, old_high = ranges.get(key, (low, high))
            ranges[key] = (min(old_low, low), max(old_high, high))
    return ModuleSamples(tuple(blocks)), ranges


def _block(pairs: Sequence[Accepted]) -> tuple[ModuleBlock, np.ndarray]:
    """One shape's rows as a block, and the rack id of each row."""
    rows, assets = list(map(_ROW, pairs)), list(map(_ASSET, pairs))
    n, cells, sensors = len(rows), len(rows[0].cell_v), len(rows[0].temp_c)
    bits = {name: packed(map(attrgetter(name), rows), n, "q") for name in _BITS}
    # None (not reported) counts as not bypassed.
    bits["quality"] |= packed(map(_BYPASSED, rows), n, "?") * QUALITY_BYPASSED
    cell_v = floats(list(chain.from_iterable(map(_CELL_V, rows))))  # null cells become NaN
    temp_c = packed(chain.from_iterable(map(_TEMP_C, rows)), n * sensors, "d")
    block = derived_block(
        module_id=packed(map(_MODULE_ID, assets), n, "q"),
        ts_us=_stamps_us(list(map(_TS, rows))),
        scalars={name: floats(list(map(attrgetter(name), rows))) for name in _SCALARS},
        cell_v=cell_v.reshape(n, cells),
        temp_c=temp_c.reshape(n, sensors),
        bits=bits,
    )
    return block, packed(map(_RACK_ID, assets), n, "q")


def _stamps_us(stamps: Sequence[datetime]) -> np.ndarray:
    """The times as microseconds since PostgreSQL's epoch, each distinct time converted once."""
    if stamps and min(stamps) == max(stamps):  # one time for the batch: the usual case
        return np.full(len(stamps), timestamp_us(stamps[0]), dtype=np.int64)
    distinct = {ts: timestamp_us(ts) for ts in set(stamps)}
    return np.fromiter(map(distinct.__getitem__, stamps), dtype=np.int64, count=len(stamps))


def _cell_ranges(block: ModuleBlock, rack_ids: np.ndarray) -> CellRanges:
    """Lowest and highest cell of each string at each time, over this block's modules."""
    times, time_index = np.unique(block.ts_us, return_inverse=True)
    racks, rack_index = np.unique(rack_ids, return_inverse=True)
    group = rack_index * len(times) + time_index
    lows = np.full(len(racks) * len(times), np.inf)
    highs = np.full(len(racks) * len(times), -np.inf)
    np.minimum.at(lows, group, block.cell_v_min)
    np.maximum.at(highs, group, block.cell_v_max)
    present = np.flatnonzero(np.isfinite(lows)).tolist()
    rack_of, time_of = racks.tolist(), [from_timestamp_us(us) for us in times.tolist()]
    return {
        (rack_of[g // len(times)], time_of[g % len(times)]): (float(lows[g]), float(highs[g]))
        for g in present
    }
