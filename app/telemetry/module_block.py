"""Module samples as columns, one NumPy array per field, for batches of thousands of rows.

An ingest batch holds a sample of every module of a site. Building a Python object per row and
packing it field by field cost more than PostgreSQL's COPY of the same rows; as columns, the
derived values (cell minimum, maximum, mean and their indices) and the COPY encoding are a few
NumPy operations per batch. A block holds rows of one shape (cells and sensors per module);
`ModuleSamples` is a batch's blocks together.
"""

import math
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from app.telemetry.schemas import ModuleSampleRow

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
F8 = NDArray[np.float64]
I8 = NDArray[np.int64]


def timestamp_us(ts: datetime) -> int:
    """Microseconds since PostgreSQL's epoch, exactly (no float rounding)."""
    delta = ts - PG_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_timestamp_us(us: int) -> datetime:
    """The datetime of a count of microseconds since PostgreSQL's epoch."""
    return PG_EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True, eq=False)
class ModuleBlock:
    """Module samples of one shape as columns, in MODULE_SAMPLE_COLUMNS order.

    NaN stands for NULL in the nullable float columns: stored values are finite (ingest
    refuses NaN and infinity), so the two cannot be confused.
    """

    module_id: I8
    ts_us: I8  # microseconds since 2000-01-01 UTC
    soc_pct: F8
    soh_pct: F8
    current_a: F8
    voltage_v: F8
    cell_v: F8  # (rows, cells)
    cell_v_min: F8
    cell_v_max: F8
    cell_v_avg: F8
    cell_v_min_idx: I8
    cell_v_max_idx: I8
    temp_c: F8  # (rows, sensors), sensors may be 0
    temp_c_max: F8
    balancing: I8
    status_bits: I8
    fault_bits: I8
    quality: I8

    def __len__(self) -> int:
        return len(self.module_id)

    def row(self, i: int) -> ModuleSampleRow:
        """Row `i` as a storage row (for the few rows that need one: events, tests)."""
        values: list[Any] = []
        for f in fields(ModuleSampleRow):
            column = getattr(self, "ts_us" if f.name == "ts" else f.name)[i]
            values.append(_python_value(f.name, column))
        return ModuleSampleRow(*values)


def _python_value(name: str, value: Any) -> Any:
    if name == "ts":
        return from_timestamp_us(int(value))
    if isinstance(value, np.ndarray):
        return [None if math.isnan(v) else v for v in value.tolist()]  # NaN: a null cell
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    return int(value)


def derived_block(
    *,
    module_id: I8,
    ts_us: I8,
    scalars: dict[str, F8],
    cell_v: F8,
    temp_c: F8,
    bits: dict[str, I8],
) -> ModuleBlock:
    """A block whose cell statistics and hottest sensor are computed from the readings."""
    no_sensors = temp_c.shape[1] == 0
    return ModuleBlock(
        module_id=module_id,
        ts_us=ts_us,
        soc_pct=scalars["soc_pct"],
        soh_pct=scalars["soh_pct"],
        current_a=scalars["current_a"],
        voltage_v=scalars["voltage_v"],
        cell_v=cell_v,
        **_cell_statistics(cell_v),
        temp_c=temp_c,
        temp_c_max=np.full(len(module_id), np.nan) if no_sensors else temp_c.max(axis=1),
        balancing=bits["balancing"],
        status_bits=bits["status_bits"],
        fault_bits=bits["fault_bits"],
        quality=bits["quality"],
    )


def _cell_statistics(cell_v: F8) -> dict[str, Any]:
    """Lowest, highest and mean cell and where they are, over the known (non-NaN) cells.

    Ingest refuses rows without any known cell, so every row has a minimum and a maximum.
    """
    unknown = np.isnan(cell_v)
    if unknown.any():  # rare: cells the BMS flagged invalid
        low, high = np.where(unknown, np.inf, cell_v), np.where(unknown, -np.inf, cell_v)
        mean = np.nanmean(cell_v, axis=1)
    else:
        low = high = cell_v
        mean = cell_v.mean(axis=1)
    return {
        "cell_v_min": low.min(axis=1),
        "cell_v_max": high.max(axis=1),
        "cell_v_avg": np.round(mean, 4),  # to 0.1 mV
        "cell_v_min_idx": low.argmin(axis=1),  # the first such cell, as list.index() gives
        "cell_v_max_idx": high.argmax(axis=1),
    }


_DTYPES = {"d": np.float64, "q": np.int64, "?": np.bool_}


def packed(values: Iterable[float | int | bool | None], count: int, code: str) -> np.ndarray:
    """A column of `count` Python values, packed by struct straight into the array's memory:
    less work per value than np.fromiter's generic conversion ('?' packs truthiness)."""
    column: np.ndarray = np.empty(count, _DTYPES[code])
    struct.pack_into(f"={count}{code}", column.data, 0, *values)
    return column


def floats(values: Sequence[float | None]) -> F8:
    """A float column; None becomes NaN (NULL)."""
    try:
        return packed(values, len(values), "d")
    except struct.error:  # None among them: NumPy converts it to NaN for a float dtype
        return np.array(values, dtype=np.float64)


T = TypeVar("T")
_CELL_V, _TEMP_C = attrgetter("cell_v"), attrgetter("temp_c")


class HasReadings(Protocol):
    """Anything with a module's cell voltages and temperatures (wire or storage rows)."""

    @property
    def cell_v(self) -> Sequence[float | None]: ...
    @property
    def temp_c(self) -> Sequence[float]: ...


def by_shape(items: Sequence[T], readings: Callable[[T], HasReadings]) -> list[Sequence[T]]:
    """The items grouped by (cells, sensors) of their readings: one group for one module type."""
    if not items:
        return []
    # One pass of C-level iterators for the usual batch: every module of one type.
    found = list(map(readings, items))
    if len(set(map(len, map(_CELL_V, found)))) == 1 == len(set(map(len, map(_TEMP_C, found)))):
        return [items]
    shapes: dict[tuple[int, int], list[T]] = {}
    for item in items:
        r = readings(item)
        shapes.setdefault((len(r.cell_v), len(r.temp_c)), []).append(item)
    return list(shapes.values())


def blocks_of_rows(rows: Sequence[ModuleSampleRow]) -> list[ModuleBlock]:
    """Storage rows as blocks, every value taken as given (tests, benchmarks, bulk loads)."""
    return [_block_of_rows(group) for group in by_shape(rows, lambda row: row)]


def _block_of_rows(rows: Sequence[ModuleSampleRow]) -> ModuleBlock:
    columns: dict[str, Any] = {}
    for f in fields(ModuleSampleRow):
        values = [getattr(r, f.name) for r in rows]
        if f.name == "ts":
            columns["ts_us"] = np.array([timestamp_us(v) for v in values], dtype=np.int64)
        elif f.name in ("cell_v", "temp_c"):
            # None (a null cell) becomes NaN, as in ingest.
            columns[f.name] = np.array(values, dtype=np.float64).reshape(len(rows), -1)
        elif f.type is int:
            columns[f.name] = np.array(values, dtype=np.int64)
        else:
            columns[f.name] = floats(values)
    return ModuleBlock(**columns)


@dataclass(frozen=True)
class ModuleSamples:
    """A batch's module samples: its blocks, one per shape of module."""

    blocks: tuple[ModuleBlock, ...] = ()

    @classmethod
    def of_rows(cls, rows: Sequence[ModuleSampleRow]) -> "ModuleSamples":
        """Storage rows, every value taken as given."""
        return cls(tuple(blocks_of_rows(rows)))

    def __len__(self) -> int:
        return sum(len(b) for b in self.blocks)

    def __iter__(self) -> Iterator[ModuleSampleRow]:
        for block in self.blocks:
            for i in range(len(block)):
                yield block.row(i)

    def stamps(self) -> set[datetime]:
        """The distinct sample times."""
        found: set[int] = set()
        for block in self.blocks:
            found.update(np.unique(block.ts_us).tolist())
        return {from_timestamp_us(us) for us in found}

    def module_ids(self) -> list[int]:
        """The distinct modules, ascending."""
        if not self.blocks:
            return []
        ids: list[int] = np.unique(np.concatenate([b.module_id for b in self.blocks])).tolist()
        return ids
