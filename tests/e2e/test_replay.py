"""Recorded CAN logs replayed through the real edge into the real backend and TimescaleDB."""

import math
from datetime import UTC, datetime
from pathlib import Path

import cantools
import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.edge_process import (
    OTHER_MAPPING,
    REFERENCE_MAPPING,
    edge_env,
    run_edge,
    write_site_file,
)
from tests.factories import DeviceSite, committed_device_site
from tests.ground_truth import REFERENCE_DBC, Samples, oracle, record_simulated_log, stored
from tests.server import LiveServer


def simulate_and_replay(
    server: LiveServer, site: DeviceSite, tmp_path: Path, modules: int = 3
) -> Samples:
    """Record the simulated site's bus, replay the log through the edge; the samples it holds."""
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        modules=modules,
        simulator="frame_period_s = 0.25\nacceleration = 600",
    )
    log = tmp_path / "reference.log"
    record_simulated_log(log, site_file, seconds=3.5)
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    result = run_edge(["replay", str(log), "--config", str(site_file)], env)
    assert result.returncode == 0, result.stderr
    return oracle(log, REFERENCE_DBC, cells=16)


async def test_reference_protocol_log_reaches_timescaledb(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    expected = simulate_and_replay(server, site, tmp_path)
    assert len(expected) >= 6 * 3  # 6 modules over at least 3 seconds
    assert stored(psycopg_dsn(test_database_url), site.site_id) == expected


async def test_modules_the_registry_lacks_are_announced_by_the_edge_and_stored(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)  # registered with 3 modules per string
    # The edge's site file, and so the simulated BMS, have a fourth module per string.
    expected = simulate_and_replay(server, site, tmp_path, modules=4)
    dsn = psycopg_dsn(test_database_url)
    assert {(string, module) for string, module, _ in expected} >= {(1, 4), (2, 4)}
    assert stored(dsn, site.site_id) == expected  # the new modules' first samples too
    modules = query_rows(
        dsn,
        "SELECT r.index, m.position, m.cell_count, m.temp_count FROM module m "
        "JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %s ORDER BY 1, 2",
        site.site_id,
    )
    assert modules == [(s, p, 16, 4) for s in (1, 2) for p in (1, 2, 3, 4)]
    refused = query_rows(
        dsn, "SELECT count(*) FROM ingest_rejection WHERE site_id = %s", site.site_id
    )
    assert refused == [(0,)]


def write_other_vendor_log(path: Path, start: float, seconds: int) -> Samples:
    """A candump log of the other vendor's protocol (1 string, 2 modules) and its samples."""
    database = cantools.database.load_file(OTHER_MAPPING.parent / "other_vendor.dbc")
    assert isinstance(database, cantools.database.can.Database)
    cells_msg, mod_msg = (
        database.get_message_by_name("BMS_CELLS"),
        database.get_message_by_name("BMS_MOD"),
    )
    lines, expected = [], {}
    for second in range(seconds):
        for address in (0, 1):
            millivolts = [3280 + 10 * address + second + i for i in range(16)]
            ts = start + second + 0.1 + 0.3 * address
            for page in range(6):
                values = {"ModAddr": address, "Page": page}
                for k in range(3):
                    n = page * 3 + k + 1
                    if n <= 16:
                        values[f"Cell_{n:02}"] = millivolts[n - 1]
                lines.append((ts + page * 0.01, 0x301, cells_msg.encode(values)))
            lines.append(
                (
                    ts + 0.1,
                    0x341,
                    mod_msg.encode(
                        {
                            "ModAddr": address,
                            "SoC": 60.5,
                            "Temp_1": 25,
                            "Temp_2": 26,
                            "ModV": sum(millivolts) / 1000,
                            "Faults": 0,
                        }
                    ),
                )
            )
            expected[(1, address + 1, int(start) + second)] = tuple(mv / 1000 for mv in millivolts)
    path.write_text(
        "".join(f"({ts:.6f}) can0 {fid:03X}#{data.hex().upper()}\n" for ts, fid, data in lines)
    )
    return expected


async def test_other_vendor_protocol_log_needs_only_dbc_and_mapping(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine, racks=1, modules_per_rack=2, temps_per_module=2)
    site_file = write_site_file(
        tmp_path, code=site.code, mapping=OTHER_MAPPING, strings=1, modules=2, temps=2
    )
    log = tmp_path / "other.log"
    start = math.floor(datetime.now(UTC).timestamp()) - 60
    expected = write_other_vendor_log(log, start, seconds=3)

    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    result = run_edge(["replay", str(log), "--config", str(site_file)], env)
    assert result.returncode == 0, result.stderr

    assert stored(psycopg_dsn(test_database_url), site.site_id) == expected
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        row = conn.execute(
            "SELECT soc_pct, temp_c FROM module_latest l JOIN module m "
            "ON m.id = l.module_id JOIN rack r ON r.id = m.rack_id "
            "WHERE r.site_id = %s LIMIT 1",
            (site.site_id,),
        ).fetchone()
    assert row == (60.5, [25.0, 26.0])
