"""PostgreSQL binary COPY streams, built in one pass instead of through the driver's adapters.

Module samples are encoded from columns: every row of a block with the same NULL pattern has
the same layout, so a NumPy structured array with big-endian fields *is* those rows of the COPY
stream. Rows may come in any order, so each NULL pattern is written as one run. The layout
follows PostgreSQL's documented binary COPY format (each field: int32 length, then the value;
-1 for NULL; arrays as ndim, flags, element type, then length and lower bound per dimension).
"""

import math
import struct
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from app.telemetry.module_block import ModuleBlock, ModuleSamples, timestamp_us

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no OIDs, no extension
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)
FLOAT4_OID = 700
REAL_ARRAY = "real[]"

# The module_sample columns in MODULE_SAMPLE_COLUMNS order: block attribute, wire type, nullable.
_MODULE_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("module_id", ">i4", False),
    ("ts_us", ">i8", False),
    ("soc_pct", ">f4", True),
    ("soh_pct", ">f4", True),
    ("current_a", ">f4", True),
    ("voltage_v", ">f4", True),
    ("cell_v", REAL_ARRAY, False),
    ("cell_v_min", ">f4", False),
    ("cell_v_max", ">f4", False),
    ("cell_v_avg", ">f4", False),
    ("cell_v_min_idx", ">i2", False),
    ("cell_v_max_idx", ">i2", False),
    ("temp_c", REAL_ARRAY, False),
    ("temp_c_max", ">f4", True),
    ("balancing", ">i8", False),
    ("status_bits", ">i4", False),
    ("fault_bits", ">i8", False),
    ("quality", ">i2", False),
)
_NULLABLE = tuple(name for name, _, nullable in _MODULE_FIELDS if nullable)


@lru_cache(maxsize=256)
def _row_dtype(cells: int, sensors: int, nulls: frozenset[str]) -> np.dtype[np.void]:
    """The byte layout of one COPY row of this shape and NULL pattern."""
    layout: list[tuple[str, str] | tuple[str, object, tuple[int]]] = [("count", ">i2")]
    for name, kind, _ in _MODULE_FIELDS:
        layout.append((f"{name}:len", ">i4"))
        if name in nulls:
            continue
        if kind == REAL_ARRAY:
            n = cells if name == "cell_v" else sensors
            layout.append((f"{name}:head", ">i4", (5,)))
            layout.append((name, [("len", ">i4"), ("bits", ">f4")], (n,)))
        else:
            layout.append((name, kind))
    return np.dtype(layout)


def _null_patterns(block: ModuleBlock) -> tuple[np.ndarray, list[int]]:
    """Each row's NULL pattern as a bit mask over the nullable columns, and the distinct ones."""
    pattern = np.zeros(len(block), dtype=np.int64)
    for bit, name in enumerate(_NULLABLE):
        pattern |= np.isnan(getattr(block, name)).astype(np.int64) << bit
    return pattern, np.unique(pattern).tolist()


def _encode_rows(block: ModuleBlock, rows: np.ndarray | slice, nulls: frozenset[str]) -> bytes:
    cells, sensors = block.cell_v.shape[1], block.temp_c.shape[1]
    out = np.empty(len(block.module_id[rows]), _row_dtype(cells, sensors, nulls))
    out["count"] = len(_MODULE_FIELDS)
    for name, kind, _ in _MODULE_FIELDS:
        if name in nulls:
            out[f"{name}:len"] = -1
            continue
        values = getattr(block, name)[rows]
        if kind == REAL_ARRAY:
            n = values.shape[1]
            out[f"{name}:len"] = 20 + 8 * n  # header, then (length, bits) per element
            out[f"{name}:head"] = (1, 0, FLOAT4_OID, n, 1)  # 1 dimension, no NULLs, real
            out[name]["len"] = 4
            out[name]["bits"] = values
        else:
            out[f"{name}:len"] = np.dtype(kind).itemsize
            out[name] = values
    return out.tobytes()


def module_block_rows(block: ModuleBlock) -> bytes:
    """The COPY rows of one block (no header or trailer)."""
    pattern, codes = _null_patterns(block)
    unknown_cells = np.isnan(block.cell_v).any(axis=1)
    everyone = not unknown_cells.any()
    if not everyone:
        # Rows with null cells (rare) are written apart: their arrays' layout differs.
        pattern[unknown_cells] = -1
        codes = [code for code in codes if (pattern == code).any()]
    parts = []
    for code in codes:
        nulls = frozenset(name for bit, name in enumerate(_NULLABLE) if code >> bit & 1)
        rows = slice(None) if len(codes) == 1 and everyone else np.flatnonzero(pattern == code)
        parts.append(_encode_rows(block, rows, nulls))
    parts += [_row_with_unknown_cells(block, i) for i in np.flatnonzero(unknown_cells).tolist()]
    return b"".join(parts)


def _row_with_unknown_cells(block: ModuleBlock, i: int) -> bytes:
    """One COPY row, field by field: for rows whose cell_v array has NULL (NaN) elements."""
    parts = [struct.pack(">h", len(_MODULE_FIELDS))]
    for name, kind, nullable in _MODULE_FIELDS:
        value = getattr(block, name)[i]
        if kind == REAL_ARRAY:
            parts.append(_real_array(value.tolist()))
        elif nullable and np.isnan(value):
            parts.append(NULL)
        else:
            packed = np.array(value, dtype=kind).tobytes()
            parts.append(struct.pack(">i", len(packed)) + packed)
    return b"".join(parts)


def _real_array(values: list[float]) -> bytes:
    """A one-dimensional real[] field; NaN elements are NULL."""
    has_null = any(map(math.isnan, values))
    elements = b"".join(NULL if math.isnan(v) else struct.pack(">if", 4, v) for v in values)
    body = struct.pack(">iiiii", 1, int(has_null), FLOAT4_OID, len(values), 1) + elements
    return struct.pack(">i", len(body)) + body


def module_samples_copy_data(samples: ModuleSamples) -> bytes:
    """The whole COPY ... (FORMAT BINARY) stream for module samples (MODULE_SAMPLE_COLUMNS)."""
    return b"".join([SIGNATURE, *(module_block_rows(b) for b in samples.blocks), TRAILER])


# Scalar column types: each field is its length, then its big-endian value.
_SCALARS: dict[str, struct.Struct] = {
    "bool": struct.Struct(">i?"),
    "int2": struct.Struct(">ih"),
    "int4": struct.Struct(">ii"),
    "int8": struct.Struct(">iq"),
    "float4": struct.Struct(">if"),
    "float8": struct.Struct(">id"),
    "timestamptz": struct.Struct(">iq"),
}
_FIELD_COUNT = struct.Struct(">h")


def scalar_rows_copy_data(
    rows: Iterable[object], columns: tuple[str, ...], types: tuple[str, ...]
) -> bytes:
    """The COPY ... (FORMAT BINARY) stream for rows of scalar columns (None is NULL)."""
    plan = [(name, kind, _SCALARS[kind]) for name, kind in zip(columns, types, strict=True)]
    parts = [SIGNATURE]
    for row in rows:
        parts.append(_FIELD_COUNT.pack(len(plan)))
        for name, kind, packer in plan:
            value = getattr(row, name)
            if value is None:
                parts.append(NULL)
            elif kind == "timestamptz":
                parts.append(packer.pack(8, timestamp_us(value)))
            else:
                parts.append(packer.pack(packer.size - 4, value))
    parts.append(TRAILER)
    return b"".join(parts)
