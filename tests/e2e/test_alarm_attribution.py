"""An alarm names the cell, value and limit that tripped it: checked against the simulator's
ground truth (the injected cell, its BMS limits and the recorded frames) through the real path,
simulated BMS → python-can virtual bus → edge → HTTP → TimescaleDB."""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from edge.sim import bms, lfp
from tests.db import psycopg_dsn, query_rows
from tests.e2e.test_resilience import FAST_SIM, stop_edge
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.factories import committed_device_site
from tests.ground_truth import first_fault_edge
from tests.server import LiveServer

STRING, MODULE, CELLS = 2, 3, 16
ALARMS_WITHIN_S = 20.0


@dataclass(frozen=True)
class Case:
    """An injected cell fault and the alarms it must raise, with their BMS limits."""

    fault: str
    cell: int  # 1-based, as the fault and the technician count
    alarms: dict[str, tuple[int, float]]  # code -> (fault bit, limit)
    high: bool  # an upper limit: the value is at or above it


CASES = {
    "over-voltage": Case(
        "cell_ov",
        7,
        {
            "cell_ov_warning": (bms.M_CELL_OV_WARN, lfp.CELL_OV_WARNING_V),
            "cell_ov_alarm": (bms.M_CELL_OV_ALARM, lfp.CELL_OV_ALARM_V),
        },
        high=True,
    ),
    "under-voltage": Case(
        "cell_uv",
        12,
        {
            "cell_uv_warning": (bms.M_CELL_UV_WARN, lfp.CELL_UV_WARNING_V),
            "cell_uv_alarm": (bms.M_CELL_UV_ALARM, lfp.CELL_UV_ALARM_V),
        },
        high=False,
    ),
}
SIZES = {"cell_ov": 0.40, "cell_uv": -0.65}  # V: past both the warning and the alarm level


async def wait_for_alarms(dsn: str, site_id: int, codes: set[str]) -> None:
    """Until every code has an alarm at the site (or the time is up)."""
    deadline = time.monotonic() + ALARMS_WITHIN_S
    while time.monotonic() < deadline:
        rows = query_rows(dsn, "SELECT code FROM alarm WHERE site_id = %s", site_id)
        if codes <= {code for (code,) in rows}:
            return
        await asyncio.sleep(0.25)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_alarm_names_the_injected_cell_its_value_and_limit(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path, case: Case
) -> None:
    site = await committed_device_site(engine)  # 2 strings x 3 modules x 16 cells
    # No load: the cells stay at rest, so only the injected fault crosses a limit.
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        simulator=f"{FAST_SIM}\nsetpoint_kw = 0",
    )
    where = f"string={STRING},module={MODULE},cell={case.cell}"
    fault = f"{case.fault}:{where},at=2.5,size={SIZES[case.fault]}"
    log = tmp_path / "bus.log"
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    edge = start_edge(
        ["simulate", "--config", str(site_file), "--fault", fault, "--record", str(log)], env
    )
    dsn = psycopg_dsn(test_database_url)
    try:
        await wait_for_alarms(dsn, site.site_id, set(case.alarms))
    finally:
        output = stop_edge(edge)
    rows = query_rows(
        dsn,
        "SELECT a.code, r.index, m.position, a.cell_index, a.value, a.threshold, "
        "extract(epoch FROM a.raised_at)::float8, a.message FROM alarm a "
        "JOIN rack r ON r.id = a.rack_id JOIN module m ON m.id = a.module_id "
        "WHERE a.site_id = %s",
        site.site_id,
    )
    alarms = {row[0]: row[1:] for row in rows}
    assert set(alarms) == set(case.alarms), output
    for code, (bit, limit) in case.alarms.items():
        truth = first_fault_edge(log, string=STRING, module=MODULE, bit=bit, cells=CELLS)
        string, module, cell_index, value, threshold, raised_at, message = alarms[code]
        assert (string, module, cell_index + 1) == (STRING, MODULE, case.cell), code
        assert raised_at == pytest.approx(truth.ts, abs=0.001), code
        # The value is the injected cell's reading in the frames the BMS tripped on.
        assert value == pytest.approx(truth.cells[case.cell - 1], abs=1e-4), code
        assert threshold == pytest.approx(limit), code
        assert value >= limit if case.high else value <= limit, code
        assert message.endswith(f"string {STRING} module {MODULE} cell {case.cell}"), code
        # ... and the module's stored sample of that second shows the same cell and value.
        ((cells,),) = query_rows(
            dsn,
            "SELECT s.cell_v FROM module_sample s JOIN module m ON m.id = s.module_id "
            "JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %s AND r.index = %s "
            "AND m.position = %s AND s.ts = date_trunc('second', to_timestamp(%s))",
            site.site_id,
            STRING,
            MODULE,
            raised_at,
        )
        extreme = max(cells) if case.high else min(cells)
        assert cells.index(extreme) == case.cell - 1, code
        assert value == pytest.approx(extreme, abs=0.002), code
