"""Accepted module rows of a batch become column blocks, with each string's cell range."""

from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter

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
    timestamp_us,
)
from app.telemetry.schemas import QUALITY_BYPASSED

# (rack id, time) -> (lowest, highest) cell voltage of the string's modules then.
CellRanges = dict[tuple[int, datetime], tuple[float, float]]
Accepted = tuple[ModuleFields, ModuleAsset]
_SCALARS = ("soc_pct", "soh_pct", "current_a", "voltage_v")
_BITS = ("balancing", "status_bits", "fault_bits", "quality")


def module_samples(accepted: Sequence[Accepted]) -> tuple[ModuleSamples, CellRanges]:
    """The accepted rows as blocks (one per module shape) and the cell range per string."""
    blocks: list[ModuleBlock] = []
    ranges: CellRanges = {}
    for pairs in by_shape(accepted, lambda pair: pair[0]):
        block, rack_ids = _block(pairs)
        blocks.append(block)
        for key, (low, high) in _cell_ranges(block, rack_ids).items():
            old_low, old_high = ranges.get(key, (low, high))
            ranges[key] = (min(old_low, low), max(old_high, high))
    return ModuleSamples(tuple(blocks)), ranges


# The wire fields a block is built from, read from every row in one pass.
_FIELDS = ("ts", "cell_v", "temp_c", "bypassed", *_SCALARS, *_BITS)
_read_fields = attrgetter(*_FIELDS)


def _block(pairs: Sequence[Accepted]) -> tuple[ModuleBlock, np.ndarray]:
    n = len(pairs)
    columns = dict(
        zip(_FIELDS, zip(*(_read_fields(row) for row, _ in pairs), strict=True), strict=True)
    )
    module_ids = np.fromiter((a.module_id for _, a in pairs), dtype=np.int64, count=n)
    rack_ids = np.fromiter((a.rack_id for _, a in pairs), dtype=np.int64, count=n)
    bits = {name: np.array(columns[name], dtype=np.int64) for name in _BITS}
    # None (not reported) counts as not bypassed.
    bits["quality"] |= np.array(columns["bypassed"], dtype=bool) * QUALITY_BYPASSED
    block = derived_block(
        module_id=module_ids,
        ts_us=_stamps_us(columns["ts"]),
        scalars={name: floats(columns[name]) for name in _SCALARS},
        cell_v=np.array(columns["cell_v"], dtype=np.float64),
        temp_c=np.array(columns["temp_c"], dtype=np.float64).reshape(n, -1),
        bits=bits,
    )
    return block, rack_ids


def _stamps_us(stamps: Sequence[datetime]) -> np.ndarray:
    """The times as microseconds since PostgreSQL's epoch, each distinct time converted once."""
    distinct = {ts: timestamp_us(ts) for ts in set(stamps)}
    if len(distinct) == 1:
        return np.full(len(stamps), next(iter(distinct.values())), dtype=np.int64)
    return np.array([distinct[ts] for ts in stamps], dtype=np.int64)


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
