"""The backend away for minutes while sites stream: nothing lost, nothing twice, no alarm lost."""

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.factories import committed_device_site
from tests.faults.streaming import StreamingSite, assert_matches_truth, until_drained
from tests.ground_truth import sample_counts, stored
from tests.server import free_port, live_server

# How long the backend stays away; CI uses the default, a longer soak sets the variable.
OUTAGE_S = float(os.environ.get("RIDETHROUGH_FAULT_OUTAGE_S", "120"))


def alarms(dsn: str, site_id: int) -> list[tuple[str, datetime]]:
    """(code, raised_at) of every alarm of a site."""
    sql = "SELECT code, raised_at FROM alarm WHERE site_id = %s ORDER BY raised_at"
    return [(code, raised_at) for code, raised_at in query_rows(dsn, sql, site_id)]


async def test_backend_down_for_minutes_while_two_sites_stream(
    engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    # A cell over-voltage starts on site A while the backend is away. The sites idle (no
    # schedule), so no other cell alarm can come from a deep charge or discharge.
    fault_at = 5 + OUTAGE_S / 2
    idle = "setpoint_kw = 0"
    sites = [
        StreamingSite(
            await committed_device_site(engine),
            tmp_path,
            simulator_extra=idle,
            faults=(f"cell_ov:string=2,module=3,cell=7,at={fault_at}",),
        ),
        StreamingSite(await committed_device_site(engine), tmp_path, simulator_extra=idle),
    ]
    port = free_port()
    server_env = {"RIDETHROUGH_DATABASE_URL": test_database_url}
    with live_server(server_env, port=port):
        for site in sites:
            site.start(f"http://127.0.0.1:{port}")
        await asyncio.sleep(5)
    down_from = datetime.now(UTC)
    await asyncio.sleep(OUTAGE_S)
    down_until = datetime.now(UTC)
    assert all(site.spool_depth() >= OUTAGE_S - 5 for site in sites)
    with live_server(server_env, port=port):
        await until_drained(sites)  # the backlog drains behind live data
        await asyncio.sleep(2)
        for site in sites:
            site.stop()

    dsn = psycopg_dsn(test_database_url)
    for site in sites:
        assert site.spool_depth() == 0
        exact, run_ends = site.truth()
        assert len(exact) >= 6 * (OUTAGE_S + 10)
        assert_matches_truth(stored(dsn, site.site.site_id), exact, run_ends)
        rows, keys = sample_counts(dsn, site.site.site_id)
        assert rows == keys
    # The alarm raised during the outage arrived, stamped with its onset, not its delivery.
    raised = [at for code, at in alarms(dsn, sites[0].site.site_id) if code.startswith("cell_ov")]
    assert raised, alarms(dsn, sites[0].site.site_id)
    assert down_from < raised[0] < down_until
    assert not [code for code, _ in alarms(dsn, sites[1].site.site_id) if code.startswith("cell")]
