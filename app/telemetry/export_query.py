"""Telemetry for the API and exports: chosen fields of modules, strings or the system, raw or
bucketed.

Only fields from the catalogues below reach the SQL, each as a fixed expression, so a field
name from a URL can never become SQL. Rows come ordered by entity, then time (the hypertables'
primary key order), which is also the key of the cursor.
"""

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from sqlalchemy import TextClause, text

from app.telemetry.schemas import SYSTEM_VALUES
from app.telemetry.sign import CONVENTION


class Entity(StrEnum):
    """Whose telemetry: one row per module, one per string, or the site's system."""

    MODULE = "module"
    STRING = "string"
    SYSTEM = "system"


class Resolution(StrEnum):
    """Raw samples, or buckets built from the one-minute rollups (aligned to UTC)."""

    RAW = "raw"
    M1 = "1m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"


BUCKET = {
    Resolution.M1: "1 minute",
    Resolution.M15: "15 minutes",
    Resolution.H1: "1 hour",
    Resolution.D1: "1 day",
}
# Seconds between rows of one entity; raw assumes the edge's default period of one second.
STEP_S = {
    Resolution.RAW: 1,
    Resolution.M1: 60,
    Resolution.M15: 900,
    Resolution.H1: 3600,
    Resolution.D1: 86400,
}


class Kind(StrEnum):
    """A field's value type, for Parquet schemas and the long format."""

    FLOAT = "float"
    INT = "int"
    FLOATS = "floats"  # an array: one value per cell or sensor


@dataclass(frozen=True, slots=True)
class Field:
    """One exported field: its SQL expression, type, unit and, where it needs one, meaning."""

    sql: str
    kind: Kind = Kind.FLOAT
    unit: str = ""
    description: str = ""


def weighted(column: str) -> str:
    """The mean of a rollup column over a bucket, each minute weighted by its sample count."""
    return f"sum(s.{column} * s.samples) / sum(s.samples)"


def flow(sql: str, unit: str, what: str) -> Field:
    """A current or power, whose sign says which way it flows (app.telemetry.sign)."""
    return Field(sql, unit=unit, description=f"{what}; {CONVENTION}")


# Raw module samples (alias s = module_sample).
MODULE_RAW: dict[str, Field] = {
    "soc_pct": Field("s.soc_pct", unit="%"),
    "soh_pct": Field("s.soh_pct", unit="%"),
    "current_a": flow("s.current_a", "A", "module current"),
    "voltage_v": Field("s.voltage_v", unit="V"),
    "cell_v_min": Field("s.cell_v_min", unit="V"),
    "cell_v_max": Field("s.cell_v_max", unit="V"),
    "cell_v_avg": Field("s.cell_v_avg", unit="V"),
    "spread_mv": Field("(s.cell_v_max - s.cell_v_min) * 1000", unit="mV"),
    "temp_c_max": Field("s.temp_c_max", unit="°C"),
    "balancing_cells": Field("bit_count(s.balancing::bit(64))", Kind.INT),
    "cell_v": Field("s.cell_v", Kind.FLOATS, "V"),
    "temp_c": Field("s.temp_c", Kind.FLOATS, "°C"),
}
# Module buckets from the minute rollups (alias s = module_sample_1m); means weighted by samples.
MODULE_BUCKETED: dict[str, Field] = {
    "soc_pct": Field(weighted("soc_pct_avg"), unit="%"),
    "current_a": flow(weighted("current_a_avg"), "A", "module current, mean"),
    "voltage_v": Field(weighted("voltage_v_avg"), unit="V"),
    "cell_v_min": Field("min(s.cell_v_min)", unit="V"),
    "cell_v_max": Field("max(s.cell_v_max)", unit="V"),
    "cell_v_avg": Field(weighted("cell_v_avg"), unit="V"),
    "spread_mv_avg": Field(weighted("spread_mv_avg"), unit="mV"),
    "spread_mv_max": Field("max(s.spread_mv_max)", unit="mV"),
    "spread_mv_p95": Field("max(s.spread_mv_p95)", unit="mV"),  # the worst minute's p95
    "temp_c_max": Field("max(s.temp_c_max)", unit="°C"),
    "samples": Field("sum(s.samples)", Kind.INT),
}
# Raw string samples (alias s = rack_sample).
STRING_RAW: dict[str, Field] = {
    "voltage_v": Field("s.voltage_v", unit="V"),
    "current_a": flow("s.current_a", "A", "string current"),
    "power_kw": flow("s.power_kw", "kW", "string power, voltage times current"),
    "soc_pct": Field("s.soc_pct", unit="%"),
    "soh_pct": Field("s.soh_pct", unit="%"),
    "contactor_closed": Field("s.contactor_closed::int", Kind.INT),
    "charge_limit_a": Field("s.charge_limit_a", unit="A"),
    "discharge_limit_a": Field("s.discharge_limit_a", unit="A"),
    "insulation_kohm": Field("s.insulation_kohm", unit="kΩ"),
    "cell_v_min": Field("s.cell_v_min", unit="V"),
    "cell_v_max": Field("s.cell_v_max", unit="V"),
    "spread_mv": Field("(s.cell_v_max - s.cell_v_min) * 1000", unit="mV"),
    "energy_charged_kwh": Field("s.energy_charged_kwh", unit="kWh"),
    "energy_discharged_kwh": Field("s.energy_discharged_kwh", unit="kWh"),
}
# String buckets from the minute rollups (alias s = rack_sample_1m).
STRING_BUCKETED: dict[str, Field] = {
    "voltage_v": Field(weighted("voltage_v_avg"), unit="V"),
    "current_a": flow(weighted("current_a_avg"), "A", "string current, mean"),
    "current_a_min": flow("min(s.current_a_min)", "A", "string current, lowest"),
    "current_a_max": flow("max(s.current_a_max)", "A", "string current, highest"),
    "power_kw": flow(weighted("power_kw_avg"), "kW", "string power, mean"),
    "soc_pct": Field(weighted("soc_pct_avg"), unit="%"),
    "cell_v_min": Field("min(s.cell_v_min)", unit="V"),
    "cell_v_max": Field("max(s.cell_v_max)", unit="V"),
    "spread_mv_max": Field("max(s.spread_mv_max)", unit="mV"),
    "spread_mv_p95": Field("max(s.spread_mv_p95)", unit="mV"),  # the worst minute's p95
    "closed_share": Field("sum(s.closed_samples)::float8 / sum(s.samples)"),
    "charge_limit_a": Field("min(s.charge_limit_a_min)", unit="A"),
    "discharge_limit_a": Field("min(s.discharge_limit_a_min)", unit="A"),
    "energy_charged_kwh": Field("max(s.energy_charged_kwh_max)", unit="kWh"),
    "energy_discharged_kwh": Field("max(s.energy_discharged_kwh_max)", unit="kWh"),
    "samples": Field("sum(s.samples)", Kind.INT),
}

# Raw system samples (alias s = system_sample): the BMS master's pack-level values.
SYSTEM_RAW: dict[str, Field] = {
    "soc_pct": Field("s.soc_pct", unit="%"),
    "soh_pct": Field("s.soh_pct", unit="%"),
    "voltage_v": Field("s.voltage_v", unit="V"),
    "current_a": flow("s.current_a", "A", "system current"),
    "power_kw": flow("s.power_kw", "kW", "system power, as the BMS reports it or V x I"),
    "charge_limit_a": Field("s.charge_limit_a", unit="A"),
    "discharge_limit_a": Field("s.discharge_limit_a", unit="A"),
    "charge_limit_kw": Field("s.charge_limit_kw", unit="kW"),
    "discharge_limit_kw": Field("s.discharge_limit_kw", unit="kW"),
}
# System buckets straight from the raw samples (one row per second at most: no rollup needed).
SYSTEM_BUCKETED: dict[str, Field] = {
    "soc_pct": Field("avg(s.soc_pct)", unit="%"),
    "soh_pct": Field("avg(s.soh_pct)", unit="%"),
    "voltage_v": Field("avg(s.voltage_v)", unit="V"),
    "current_a": flow("avg(s.current_a)", "A", "system current, mean"),
    "current_a_min": flow("min(s.current_a)", "A", "system current, lowest"),
    "current_a_max": flow("max(s.current_a)", "A", "system current, highest"),
    "power_kw": flow("avg(s.power_kw)", "kW", "system power, mean"),
    "charge_limit_a": Field("min(s.charge_limit_a)", unit="A"),
    "discharge_limit_a": Field("min(s.discharge_limit_a)", unit="A"),
    "charge_limit_kw": Field("min(s.charge_limit_kw)", unit="kW"),
    "discharge_limit_kw": Field("min(s.discharge_limit_kw)", unit="kW"),
    "samples": Field("count(*)", Kind.INT),
}

CATALOGUE = {
    (Entity.MODULE, False): MODULE_RAW,
    (Entity.MODULE, True): MODULE_BUCKETED,
    (Entity.STRING, False): STRING_RAW,
    (Entity.STRING, True): STRING_BUCKETED,
    (Entity.SYSTEM, False): SYSTEM_RAW,
    (Entity.SYSTEM, True): SYSTEM_BUCKETED,
}
DEFAULT_FIELDS = {
    Entity.MODULE: ("soc_pct", "current_a", "cell_v_min", "cell_v_max", "temp_c_max"),
    Entity.STRING: ("voltage_v", "current_a", "power_kw", "soc_pct"),
    Entity.SYSTEM: SYSTEM_VALUES,
}
# (table, id column, time column) of each entity's raw and rollup tables.
SOURCES = {
    (Entity.MODULE, False): ("module_sample", "module_id", "ts"),
    (Entity.MODULE, True): ("module_sample_1m", "module_id", "bucket"),
    (Entity.STRING, False): ("rack_sample", "rack_id", "ts"),
    (Entity.STRING, True): ("rack_sample_1m", "rack_id", "bucket"),
    (Entity.SYSTEM, False): ("system_sample", "site_id", "ts"),
    (Entity.SYSTEM, True): ("system_sample", "site_id", "ts"),
}


EARLIEST = datetime.min.replace(tzinfo=UTC)


class FieldError(ValueError):
    """A requested field that this entity and resolution do not have."""


@dataclass(frozen=True, slots=True)
class Selection:
    """What to read: whose telemetry, which fields, at what resolution, over what range."""

    site_id: int
    entity: Entity
    resolution: Resolution
    fields: tuple[str, ...]
    start: datetime
    end: datetime
    string: int | None = None  # one string's modules, or that string only
    module: int | None = None  # one module position (with string)

    @property
    def bucketed(self) -> bool:
        """Whether rows come from the minute rollups."""
        return self.resolution is not Resolution.RAW

    def catalogue(self) -> dict[str, Field]:
        """The fields this entity has at this resolution."""
        return CATALOGUE[self.entity, self.bucketed]


def choose_fields(entity: Entity, resolution: Resolution, requested: str) -> tuple[str, ...]:
    """Comma-separated field names, checked against the catalogue; blank: the defaults."""
    names = tuple(n.strip() for n in requested.split(",") if n.strip())
    catalogue = CATALOGUE[entity, resolution is not Resolution.RAW]
    if not names:
        return tuple(n for n in DEFAULT_FIELDS[entity] if n in catalogue)
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        raise FieldError(
            f"{', '.join(unknown)}: not a {resolution} {entity} field; "
            f"choose from {', '.join(catalogue)}"
        )
    return tuple(dict.fromkeys(names))


def _scope(entity: Entity) -> tuple[str, str, str]:
    """(string and module columns, joins, site and string/module filter) of an entity's rows."""
    if entity is Entity.SYSTEM:
        return "CAST(NULL AS smallint), CAST(NULL AS smallint)", "", "s.site_id = :site_id"
    where = "r.site_id = :site_id AND (CAST(:string AS int) IS NULL OR r.index = :string)"
    if entity is Entity.MODULE:
        joins = "JOIN module m ON m.id = s.module_id JOIN rack r ON r.id = m.rack_id"
        module_filter = "AND (CAST(:module AS int) IS NULL OR m.position = :module)"
        return "r.index, m.position", joins, f"{where} {module_filter}"
    return "r.index, CAST(NULL AS smallint)", "JOIN rack r ON r.id = s.rack_id", where


def statement(selection: Selection, *, paged: bool) -> TextClause:
    """The SELECT for a selection: ts, string, module, entity id, then the chosen fields."""
    table, id_col, time_col = SOURCES[selection.entity, selection.bucketed]
    catalogue = selection.catalogue()
    values = ", ".join(f"{catalogue[name].sql} AS {name}" for name in selection.fields)
    if selection.bucketed:
        ts = f"time_bucket(CAST('{BUCKET[selection.resolution]}' AS interval), s.{time_col})"
    else:
        ts = f"s.{time_col}"
    who, joins, scope = _scope(selection.entity)
    after = f"(s.{id_col}, {ts}) > (:after_id, CAST(:after_ts AS timestamptz))"
    group = f"GROUP BY 1, 2, 3, 4 HAVING {after}" if selection.bucketed else ""
    where_after = "" if selection.bucketed else f"AND {after}"
    limit = "LIMIT :limit" if paged else ""
    return text(f"""
SELECT {ts} AS ts, {who}, s.{id_col} AS entity_id, {values}
FROM {table} s {joins}
WHERE {scope} AND s.{time_col} >= :start AND s.{time_col} < :end
  AND s.{id_col} >= :after_id {where_after}
{group}
ORDER BY s.{id_col}, 1 {limit}
""")  # noqa: S608 - every interpolated piece is a constant from this module


def parameters(
    selection: Selection, *, after: tuple[int, datetime] | None, limit: int | None
) -> dict[str, object]:
    """Bind values for `statement` (after: the cursor's entity id and time)."""
    after_id, after_ts = after or (0, EARLIEST)
    return {
        "site_id": selection.site_id,
        "start": selection.start,
        "end": selection.end,
        "string": selection.string,
        "module": selection.module,
        "after_id": after_id,
        "after_ts": after_ts,
        "limit": limit,
    }


def entity_count_statement(selection: Selection) -> TextClause:
    """How many modules or strings the selection covers (for the size of an export)."""
    if selection.entity is Entity.SYSTEM:
        return text("SELECT count(*) FROM site WHERE id = :site_id")  # one system per site
    where = "r.site_id = :site_id AND (CAST(:string AS int) IS NULL OR r.index = :string)"
    if selection.entity is Entity.STRING:
        return text(f"SELECT count(*) FROM rack r WHERE {where}")  # noqa: S608 - constants
    return text(f"""
SELECT count(*) FROM module m JOIN rack r ON r.id = m.rack_id
WHERE {where} AND (CAST(:module AS int) IS NULL OR m.position = :module)
""")  # noqa: S608 - constants


@dataclass(frozen=True, slots=True)
class ExportSize:
    """The most values an export can hold: entities x rows per entity x fields."""

    entities: int
    rows_per_entity: int
    fields: int

    @property
    def values(self) -> int:
        """The product."""
        return self.entities * self.rows_per_entity * self.fields


def export_size(selection: Selection, entities: int) -> ExportSize:
    """The selection's size at one row per entity and step of its resolution."""
    seconds = (selection.end - selection.start).total_seconds()
    rows = math.ceil(seconds / STEP_S[selection.resolution])
    return ExportSize(entities, rows, len(selection.fields))


CHUNK_STARTS = text("""
SELECT range_start FROM timescaledb_information.chunks
WHERE hypertable_schema = 'public' AND hypertable_name = :table
  AND range_end > :start AND range_start < :end
ORDER BY range_start
""")


def chunk_starts_statement(selection: Selection) -> tuple[TextClause, dict[str, object]]:
    """The start times of the source table's chunks that overlap the selection's range."""
    table = SOURCES[selection.entity, selection.bucketed][0]
    return CHUNK_STARTS, {"table": table, "start": selection.start, "end": selection.end}


def slices(selection: Selection, chunk_starts: list[datetime], per_query: int) -> list[Selection]:
    """The selection cut into consecutive ranges of at most `per_query` chunks each (one more
    where a cut is moved back to a bucket's start), so that no one query locks them all."""
    step = timedelta(seconds=STEP_S[selection.resolution] if selection.bucketed else 1)
    cuts = sorted({_floor(start, step) for start in chunk_starts[per_query::per_query]})
    edges = [
        selection.start,
        *(c for c in cuts if selection.start < c < selection.end),
        selection.end,
    ]
    return [replace(selection, start=a, end=b) for a, b in pairwise(edges)]


def _floor(ts: datetime, step: timedelta) -> datetime:
    """The time on the UTC grid of `step` at or before `ts` (a bucket's start)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return ts - (ts - epoch) % step
