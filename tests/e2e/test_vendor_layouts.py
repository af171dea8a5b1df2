"""Vendor layouts from mapping files alone: recorded logs replayed through the real edge into
TimescaleDB, compared with what plain cantools and each vendor's own arithmetic say was sent.

flat_pack: cells and thermistors numbered across the string (module = n // 18 + 1), pages by a
multiplexer, one frame id per string, string values behind a string multiplexer.
cellmon: zero-based signal names, a validity bit per cell, one-bit fault flags, a DBC that
loads only with strict = false.
other_vendor_arxml: the other vendor's protocol described in ARXML (AUTOSAR 4) instead of DBC,
checked against plain cantools reading the DBC.
"""

import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import can
import cantools
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.edge_process import edge_env, run_edge, write_site_file
from tests.factories import committed_device_site
from tests.server import LiveServer

PROTOCOLS = Path(__file__).resolve().parents[1] / "protocols"
Cells = tuple[float | None, ...]
Sample = tuple[Cells, tuple[float, ...]]
Samples = dict[tuple[int, int, int], Sample]  # (string, module, second) -> (cells, temps)
Update = tuple[tuple[int, int], dict[str, dict[int, float | None]]]  # asset -> field -> values


def database(name: str) -> Any:
    """A test vendor's DBC, loaded with plain cantools."""
    return cantools.database.load_file(PROTOCOLS / f"{name}.dbc", strict=False)


def other_vendor_frames(start: float, seconds: int) -> list[tuple[float, int, bytes]]:
    """Two strings (id low bits 1, 2) of 3 modules (ModAddr 0..2), 16 cells and 2 sensors each."""
    db = database("other_vendor")
    cells, module, pack = (db.get_message_by_name(n) for n in ("BMS_CELLS", "BMS_MOD", "BMS_STR"))
    frames = []
    for second in range(seconds):
        ts = start + second + 0.05
        for string in (1, 2):
            for address in range(3):
                for page in range(6):
                    values = {"ModAddr": address, "Page": page} | {
                        f"Cell_{n:02}": 3100 + string * 100 + address * 20 + n + second
                        for n in range(page * 3 + 1, min(page * 3 + 3, 16) + 1)
                    }
                    frames.append((ts + page * 0.001, 0x300 | string, cells.encode(values)))
                status: dict[str, float] = {"ModAddr": address, "SoC": 50, "ModV": 52.5}
                status |= {"Temp_1": 20 + address + second, "Temp_2": 30 - address - string}
                frames.append((ts + 0.01, 0x340 | string, module.encode(status | {"Faults": 0})))
            frames.append(
                (
                    ts + 0.02,
                    0x380 | string,
                    pack.encode({"StrV": 700 + string, "StrI": 12.5, "Contactor": 1, "SoC": 50}),
                )
            )
    return frames


def other_vendor_updates(message: can.Message, db: Any) -> Iterator[Update]:
    """The oracle from the DBC: string in the id's low bits, module = ModAddr + 1, mV cells."""
    base, string = message.arbitration_id & 0x7F0, message.arbitration_id & 0xF
    if base not in (0x300, 0x340):
        return
    decoded = db.decode_message(base, bytes(message.data), decode_choices=False)
    cells: dict[int, float | None] = {
        int(k[5:]) - 1: round(v / 1000, 3) for k, v in decoded.items() if k[:5] == "Cell_"
    }
    temps: dict[int, float | None] = {
        int(k[5:]) - 1: float(v) for k, v in decoded.items() if k[:5] == "Temp_"
    }
    yield (string, int(decoded["ModAddr"]) + 1), {"cells": cells, "temps": temps}


def write_log(path: Path, frames: list[tuple[float, int, bytes]]) -> None:
    """A candump log, as python-can writes and reads it."""
    with can.Logger(str(path)) as logger:
        for ts, frame_id, data in frames:
            logger.on_message_received(
                can.Message(
                    timestamp=ts,
                    arbitration_id=frame_id,
                    data=data,
                    is_extended_id=False,
                    channel="can0",
                )
            )


def flat_pack_frames(start: float, seconds: int) -> list[tuple[float, int, bytes]]:
    """Two strings of 12 x 18 cells and 12 x 4 thermistors, every second."""
    db = database("flat_pack")
    cells, therms, pack = (
        db.get_message_by_name(n) for n in ("CellPages", "ThermPages", "PackStrings")
    )
    frames = []
    for second in range(seconds):
        ts = start + second + 0.05
        for string in (1, 2):
            for page in range(54):
                values = {"PageIndex": page} | {
                    f"Cell_{page * 4 + k:03}": 3200
                    + (string * 7 + (page * 4 + k) * 3 + second) % 300
                    for k in range(4)
                }
                frames.append((ts + page * 0.001, 0x6B0 + string - 1, cells.encode(values)))
            for page in range(8):
                values = {"ThermPage": page} | {
                    f"Therm_{page * 6 + k:02}": 20 + (page * 6 + k + second + string) % 10
                    for k in range(6)
                }
                frames.append((ts + 0.1 + page * 0.001, 0x6C0 + string - 1, therms.encode(values)))
            signals = {"StringSel": string - 1} | {
                f"S{s}_{name}": 0
                for s in (1, 2)
                for name in ("PackVoltage", "PackCurrent", "PackSOC", "PackSOH")
            }
            signals |= {f"S{string}_PackVoltage": 700 + string, f"S{string}_PackSOC": 50 + string}
            frames.append((ts + 0.2, 0x6D0, pack.encode(signals, strict=False)))
    return frames


def flat_pack_updates(message: can.Message, db: Any) -> Iterator[Update]:
    """The oracle: module = n // per_module + 1, position n % per_module, string from the id."""
    decoded = db.decode_message(
        message.arbitration_id & 0x7F0, bytes(message.data), decode_choices=False
    )
    string = (message.arbitration_id & 0xF) + 1
    per_module = {"Cell_": ("cells", 18, 0.001), "Therm_": ("temps", 4, 1.0)}
    for name, value in decoded.items():
        for prefix, (kind, per, scale) in per_module.items():
            if name.startswith(prefix) and message.arbitration_id & 0x7F0 != 0x6D0:
                n = int(name.removeprefix(prefix))
                yield (string, n // per + 1), {kind: {n % per: round(value * scale, 3)}}


def cellmon_frames(start: float, seconds: int) -> list[tuple[float, int, bytes]]:
    """One string of 6 modules; module 2's last cell always invalid, module 3's fifth cell
    invalid in second 1; two fault flags raised in second 1."""
    db = database("cellmon")
    volts, temps, flags = (
        db.get_message_by_name(n) for n in ("CellmonVoltages", "CellmonTemps", "CriticalFlags")
    )
    frames = []
    for second in range(seconds):
        ts = start + second + 0.05
        for address in range(6):  # module numbers 0..5 on the bus
            for group in range(5):
                values: dict[str, float] = {"CellGroup": group}
                for k in range(4):
                    n = group * 4 + k
                    if n < 18:
                        values[f"CellVoltage_{n:03}"] = 3300 + address * 20 + n + second
                        bad = (address, n) == (1, 17) or (address, n, second) == (2, 4, 1)
                        values[f"CellVoltage_{n:03}_Valid"] = 0 if bad else 1
                frames.append((ts + group * 0.001, 0x500 | address, volts.encode(values)))
            sensors = {f"Temperature_{k}": 25 + k + address for k in range(4)}
            frames.append((ts + 0.01, 0x540 | address, temps.encode(sensors | {"ModuleSOC": 60})))
        raised = {"Flag_CellOverVoltage": 1, "Flag_FanFault": 1} if second == 1 else {}
        frames.append((ts + 0.3, 0x600, flags.encode({s.name: 0 for s in flags.signals} | raised)))
    return frames


def cellmon_updates(message: can.Message, db: Any) -> Iterator[Update]:
    """The oracle: module from the low id bits (0-based), invalid cells unknown."""
    base = message.arbitration_id & 0x7F0
    if base not in (0x500, 0x540):
        return
    decoded = db.decode_message(base, bytes(message.data), decode_choices=False)
    module = (message.arbitration_id & 0xF) + 1
    cells: dict[int, float | None] = {}
    temps: dict[int, float | None] = {}
    for name, value in decoded.items():
        if name.startswith("CellVoltage_") and not name.endswith("_Valid"):
            valid = decoded[f"{name}_Valid"]
            cells[int(name[12:15])] = round(value / 1000, 3) if valid else None
        elif name.startswith("Temperature_"):
            temps[int(name[12:])] = float(value)
    yield (1, module), {"cells": cells, "temps": temps}


def oracle(log: Path, updates: Callable[[can.Message], Iterator[Update]], cells: int) -> Samples:
    """Per second, each module heard that second with every cell known: its last values."""
    known: dict[tuple[int, int], dict[str, dict[int, float | None]]] = defaultdict(
        lambda: {"cells": {}, "temps": {}}
    )
    expected: Samples = {}
    heard: set[tuple[int, int]] = set()
    second: int | None = None
    for message in can.LogReader(str(log)):
        now = math.floor(message.timestamp)
        if second is not None and now > second:
            expected |= _close(known, heard, second, cells)
        second = now
        for asset, values in updates(message):
            heard.add(asset)
            for kind, by_index in values.items():
                known[asset][kind].update(by_index)
    assert second is not None
    return expected | _close(known, heard, second, cells)


def _close(
    known: dict[tuple[int, int], dict[str, dict[int, float | None]]],
    heard: set[tuple[int, int]],
    second: int,
    cells: int,
) -> Samples:
    out: Samples = {}
    for string, module in heard:
        values = known[(string, module)]
        if len(values["cells"]) == cells:
            temps = values["temps"]
            out[(string, module, second)] = (
                tuple(values["cells"][i] for i in range(cells)),
                tuple(float(t) for _, t in sorted(temps.items()) if t is not None),
            )
    heard.clear()
    return out


def stored(dsn: str, site_id: int) -> Samples:
    """Module samples in TimescaleDB, keyed like the oracle."""
    rows = query_rows(
        dsn,
        "SELECT r.index, m.position, extract(epoch FROM s.ts)::bigint, s.cell_v, s.temp_c "
        "FROM module_sample s JOIN module m ON m.id = s.module_id "
        "JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %s",
        site_id,
    )
    return {
        (r, p, t): (
            tuple(None if v is None else round(v, 3) for v in cells),
            tuple(round(v, 3) for v in temps),
        )
        for r, p, t, cells, temps in rows
    }


async def replay(
    server: LiveServer,
    engine: AsyncEngine,
    tmp_path: Path,
    *,
    protocol: str,
    strings: int,
    modules: int,
    frames: list[tuple[float, int, bytes]],
    cells: int = 18,
    temps: int = 4,
) -> tuple[int, Path]:
    """Replay a log of a test vendor through `python -m edge replay`; the site id and the log."""
    site = await committed_device_site(
        engine,
        racks=strings,
        modules_per_rack=modules,
        cells_per_module=cells,
        temps_per_module=temps,
    )
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=PROTOCOLS / f"{protocol}.toml",
        strings=strings,
        modules=modules,
        cells=cells,
        temps=temps,
    )
    log = tmp_path / f"{protocol}.log"
    write_log(log, frames)
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    result = run_edge(["replay", str(log), "--config", str(site_file)], env)
    assert result.returncode == 0, result.stderr
    return site.site_id, log


def a_minute_ago() -> float:
    """A whole second a minute back (inside the backend's accepted window)."""
    return math.floor(datetime.now(UTC).timestamp()) - 60


async def test_flat_cell_and_thermistor_numbering_across_strings(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site_id, log = await replay(
        server,
        engine,
        tmp_path,
        protocol="flat_pack",
        strings=2,
        modules=12,
        frames=flat_pack_frames(a_minute_ago(), 3),
    )
    db = database("flat_pack")
    expected = oracle(log, lambda m: flat_pack_updates(m, db), cells=18)
    assert len(expected) == 2 * 12 * 3  # every module of both strings, every second
    dsn = psycopg_dsn(test_database_url)
    assert stored(dsn, site_id) == expected
    strings = query_rows(
        dsn,
        "SELECT r.index, s.voltage_v, s.soc_pct FROM rack_sample s JOIN "
        "rack r ON r.id = s.rack_id WHERE r.site_id = %s ORDER BY 1 LIMIT 1",
        site_id,
    )
    assert strings == [(1, pytest.approx(701.0), pytest.approx(51.0))]


async def test_zero_based_names_invalid_cells_and_fault_flags(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site_id, log = await replay(
        server,
        engine,
        tmp_path,
        protocol="cellmon",
        strings=1,
        modules=6,
        frames=cellmon_frames(a_minute_ago(), 3),
    )
    db = database("cellmon")
    expected = oracle(log, lambda m: cellmon_updates(m, db), cells=18)
    assert len(expected) == 6 * 3
    assert sum(None in cells for cells, _ in expected.values()) == 3 + 1  # the invalid cells
    dsn = psycopg_dsn(test_database_url)
    assert stored(dsn, site_id) == expected
    codes = query_rows(
        dsn,
        "SELECT DISTINCT code FROM alarm_event WHERE site_id = %s AND raised ORDER BY 1",
        site_id,
    )
    assert codes == [("cell_ov_alarm",), ("fan_fault",)]


async def test_an_arxml_database_replays_like_the_dbc(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    # The frames are encoded and the oracle decodes them with the DBC; the edge reads the ARXML.
    site_id, log = await replay(
        server,
        engine,
        tmp_path,
        protocol="other_vendor_arxml",
        strings=2,
        modules=3,
        cells=16,
        temps=2,
        frames=other_vendor_frames(a_minute_ago(), 3),
    )
    db = database("other_vendor")
    expected = oracle(log, lambda m: other_vendor_updates(m, db), cells=16)
    assert len(expected) == 2 * 3 * 3  # every module of both strings, every second
    dsn = psycopg_dsn(test_database_url)
    assert stored(dsn, site_id) == expected
    strings = query_rows(
        dsn,
        "SELECT r.index, s.voltage_v, s.current_a FROM rack_sample s JOIN "
        "rack r ON r.id = s.rack_id WHERE r.site_id = %s ORDER BY 1 LIMIT 1",
        site_id,
    )
    # This vendor counts charge as positive: 12.5 A on the bus is 12.5 A of charge, stored -12.5.
    assert strings == [(1, pytest.approx(701.0), pytest.approx(-12.5))]
