"""Telemetry exports as CSV, NDJSON or Parquet, wide or long, streamed chunk by chunk.

Rows are read through a server-side cursor and written one chunk at a time, so an export of any
length holds one chunk in memory. Long ranges are read slice by slice (rows by entity, then time,
within each slice). Times are UTC ISO-8601 (`Z`); cells and sensors count from 1.
"""

import csv
import io
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.csv_safety import csv_cell
from app.telemetry.export_query import (
    Field,
    Kind,
    Selection,
    chunk_starts_statement,
    parameters,
    slices,
    statement,
)

CHUNK_ROWS = 5_000  # database rows per chunk (a long-format chunk has rows x values lines)
LEADING = ("ts", "string", "module")
LONG = ("ts", "entity", "metric", "value")


class Format(StrEnum):
    """Export file formats."""

    CSV = "csv"
    NDJSON = "ndjson"
    PARQUET = "parquet"


MEDIA_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.NDJSON: "application/x-ndjson",
    Format.PARQUET: "application/vnd.apache.parquet",
}


def iso(ts: datetime) -> str:
    """UTC ISO-8601 with a Z."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def entity_label(string: int | None, module: int | None) -> str:
    """'s3' for string 3, 's3.m12' for its module 12, 'system' for the system (no string)."""
    if string is None:
        return "system"
    return f"s{string}" if module is None else f"s{string}.m{module}"


def long_rows(
    selection: Selection, row: Sequence[Any]
) -> Iterator[tuple[datetime, str, str, float]]:
    """One (ts, entity, metric, value) per value of a row; arrays per element, nulls left out."""
    ts, string, module, _, *values = row
    entity = entity_label(string, module)
    catalogue = selection.catalogue()
    for name, value in zip(selection.fields, values, strict=True):
        if value is None:
            continue
        if catalogue[name].kind is Kind.FLOATS:
            for i, element in enumerate(value, start=1):
                if element is not None:
                    yield ts, entity, f"{name}.{i}", float(element)
        else:
            yield ts, entity, name, float(value)


async def database_chunks(
    sessionmaker: async_sessionmaker[AsyncSession], selection: Selection, *, chunks_per_query: int
) -> AsyncIterator[Sequence[Any]]:
    """The selection's rows, a chunk at a time, through a server-side cursor per slice.

    Each slice of the range (a bounded number of the table's chunks) is its own transaction: a
    query's locks are held to its transaction's end, and one over thousands of chunks would
    exceed the server's lock table ("out of shared memory").
    """
    async with sessionmaker() as session:
        async with session.begin():
            query, bound = chunk_starts_statement(selection)
            starts = list((await session.scalars(query, bound)).all())
        for piece in slices(selection, starts, chunks_per_query):
            async with session.begin():
                result = await session.stream(
                    statement(piece, paged=False),
                    parameters(piece, after=None, limit=None),
                    execution_options={"yield_per": CHUNK_ROWS},
                )
                async for chunk in result.partitions(CHUNK_ROWS):
                    yield chunk


class CsvWriter:
    """CSV with a header line; arrays in one field, their values separated by ';'."""

    def __init__(self, selection: Selection, *, long: bool) -> None:
        self.selection, self.long = selection, long
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")
        self.writer.writerow(LONG if long else (*LEADING, *selection.fields))

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """A chunk of rows as CSV (the header comes with the first)."""
        for row in rows:
            if self.long:
                for ts, entity, metric, value in long_rows(self.selection, row):
                    self.writer.writerow((iso(ts), csv_cell(entity), csv_cell(metric), value))
            else:
                ts, string, module, _, *values = row
                self.writer.writerow(
                    (
                        iso(ts),
                        string,
                        "" if module is None else module,
                        *(_csv_value(v) for v in values),
                    )
                )
        return self._drain()

    def close(self) -> bytes:
        """Anything still buffered (the header of an empty export)."""
        return self._drain()

    def _drain(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode()


def _csv_value(value: Any) -> Any:
    # Arrays are numbers joined by ';' (never text anyone typed): left as they are for scripts.
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join("" if v is None else repr(v) for v in value)
    return csv_cell(value)


class NdjsonWriter:
    """One JSON object per line."""

    def __init__(self, selection: Selection, *, long: bool) -> None:
        self.selection, self.long = selection, long

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """A chunk of rows as JSON lines."""
        # Appended one by one: each orjson result is freed at once. Kept in a list, every one
        # would pin orjson's few-KB output buffer (1.4 GB for 340,000 lines, measured).
        out = bytearray()
        for row in rows:
            if self.long:
                for ts, entity, metric, value in long_rows(self.selection, row):
                    record = {"ts": iso(ts), "entity": entity, "metric": metric, "value": value}
                    out += orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
            else:
                ts, string, module, _, *values = row
                wide = {"ts": iso(ts), "string": string, "module": module}
                wide.update(zip(self.selection.fields, values, strict=True))
                out += orjson.dumps(wide, option=orjson.OPT_APPEND_NEWLINE)
        return bytes(out)

    def close(self) -> bytes:
        """Nothing is buffered."""
        return b""


PARQUET_TYPES = {
    Kind.FLOAT: pa.float64(),
    Kind.INT: pa.int64(),
    Kind.FLOATS: pa.list_(pa.float32()),
}


def parquet_field(name: str, field: Field) -> pa.Field:
    """A wide column with its unit and meaning kept in the file, e.g. the sign of a current."""
    notes = {k: v for k, v in (("unit", field.unit), ("description", field.description)) if v}
    return pa.field(name, PARQUET_TYPES[field.kind], metadata=notes or None)


class _Sink(io.RawIOBase):
    """A write-only file that hands back whatever was written since it was last drained."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class ParquetWriter:
    """Parquet, one row group per chunk; timestamps as UTC microseconds."""

    def __init__(self, selection: Selection, *, long: bool) -> None:
        self.selection, self.long = selection, long
        timestamp = pa.timestamp("us", tz="UTC")
        if long:
            fields = [
                ("ts", timestamp),
                ("entity", pa.string()),
                ("metric", pa.string()),
                ("value", pa.float64()),
            ]
        else:
            catalogue = selection.catalogue()
            fields = [("ts", timestamp), ("string", pa.int16()), ("module", pa.int16())]
            fields += [parquet_field(n, catalogue[n]) for n in selection.fields]
        self.schema = pa.schema(fields)
        self.sink = _Sink()
        self.writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """A chunk of rows as one row group."""
        columns: list[list[Any]]
        if self.long:
            expanded = [r for row in rows for r in long_rows(self.selection, row)]
            columns = [[r[i] for r in expanded] for i in range(len(LONG))]
        else:
            # Column 3, the entity id, is for the cursor only.
            columns = [[row[i] for row in rows] for i in (0, 1, 2, *range(4, len(rows[0])))]
        self.writer.write_table(
            pa.table(dict(zip(self.schema.names, columns, strict=True)), schema=self.schema)
        )
        return self.sink.drain()

    def close(self) -> bytes:
        """The footer."""
        self.writer.close()
        return self.sink.drain()


class Writer(Protocol):
    """Turns chunks of database rows into bytes of one format."""

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """A chunk's bytes."""

    def close(self) -> bytes:
        """The last bytes."""


WRITERS: dict[Format, Callable[..., Writer]] = {
    Format.CSV: CsvWriter,
    Format.NDJSON: NdjsonWriter,
    Format.PARQUET: ParquetWriter,
}


async def export_bytes(
    sessionmaker: async_sessionmaker[AsyncSession],
    selection: Selection,
    fmt: Format,
    *,
    long: bool,
    chunks_per_query: int,
) -> AsyncGenerator[bytes]:
    """The whole export as a stream of byte chunks."""
    writer = WRITERS[fmt](selection, long=long)
    async for rows in database_chunks(sessionmaker, selection, chunks_per_query=chunks_per_query):
        data = writer.chunk(rows)
        if data:
            yield data
    yield writer.close()
