"""`python -m edge backfill`: a site's history through the real ingest, stored once."""

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from edge.sim.faults import FaultKind
from edge.sim.incidents import Incident, history_incidents
from edge.sim.runner import plant_for
from edge.site import load_site_file
from tests.db import psycopg_dsn
from tests.edge_process import (
    REFERENCE_MAPPING,
    REFERENCE_POLICY,
    edge_env,
    run_edge,
    write_site_file,
)
from tests.factories import committed_device_site
from tests.server import LiveServer

DAYS = 7
# Incidents the policy meets at alarm level (a cell's sag only reaches the warning, a module
# falling silent is no fault of the string).
ISOLATING = {FaultKind.CELL_OV, FaultKind.INSULATION_DROP, FaultKind.COOLING_FAILURE}


PERIOD_S = 900


def _per_module(dsn: str, site_id: int) -> dict[tuple[int, int], int]:
    """Stored samples per (string, module position)."""
    sql = (
        "SELECT r.index, m.position, count(*) FROM module_sample s JOIN module m "
        "ON m.id = s.module_id JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %s "
        "GROUP BY 1, 2"
    )
    with psycopg.connect(dsn) as conn:
        return {(string, position): n for string, position, n in conn.execute(sql, (site_id,))}


def _assert_every_sample_once(
    counts: dict[tuple[int, int], int], incidents: list[Incident]
) -> None:
    """Each module has a sample every period, less those of a comms loss it went through
    (the period it starts in or ends in may go either way)."""
    silent = {
        (i.fault.string, i.fault.module): (i.end_s - i.start_s) / PERIOD_S
        for i in incidents
        if i.fault.kind is FaultKind.COMMS_LOSS
    }
    for module, count in counts.items():
        missing = DAYS * 96 - count
        if module in silent:
            assert abs(missing - silent[module]) <= 1, (module, count, silent[module])
        else:
            assert missing == 0, (module, count)


def _stored(dsn: str, site_id: int) -> tuple[int, int, int, int]:
    """Module samples, batches, policy isolations (returned) and alarms (acknowledged)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM module_sample s JOIN module m ON m.id = s.module_id "
            "        JOIN rack r ON r.id = m.rack_id WHERE r.site_id = %(site)s),"
            " (SELECT count(*) FROM ingest_batch b JOIN edge_device d ON d.id = b.edge_device_id"
            "  WHERE d.site_id = %(site)s),"
            " (SELECT count(*) FROM isolation WHERE site_id = %(site)s"
            "  AND isolated_by = 'edge_policy' AND returned_at IS NOT NULL),"
            " (SELECT count(*) FROM alarm WHERE site_id = %(site)s)",
            {"site": site_id},
        ).fetchone()
    assert row is not None
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))


async def test_a_history_is_stored_once_through_the_ingest(
    server: LiveServer, engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine, modules_per_rack=7)
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        modules=7,
        simulator="seed = 3",
        policy=REFERENCE_POLICY,
    )
    history_spool = str(tmp_path / "history.sqlite3")
    env = edge_env(
        backend=server.url,
        token=site.token,
        spool=tmp_path / "live.sqlite3",
        RIDETHROUGH_EDGE_HISTORY_SPOOL_PATH=history_spool,
    )
    args = ["backfill", "--config", str(site_file), "--days", str(DAYS), "--period", str(PERIOD_S)]

    first = run_edge(args, env, timeout=240)
    assert first.returncode == 0, first.stderr
    end = datetime.fromisoformat(first.stdout.strip())
    assert abs(end - datetime.now(end.tzinfo)) < timedelta(minutes=5)
    dsn = psycopg_dsn(test_database_url)
    samples, batches, isolations, alarms = _stored(dsn, site.site_id)
    spec = plant_for(load_site_file(site_file)).spec
    # The incidents depend on the site code, which depends on the tests run before this one.
    incidents = history_incidents(spec, site=site.code, seed=3, days=DAYS)
    counts = _per_module(dsn, site.site_id)
    assert len(counts) == 14
    _assert_every_sample_once(counts, incidents)  # every module, every 15 minutes, once
    # Each incident the edge policy isolated, and an operator returned after the repair.
    assert isolations == sum(i.fault.kind in ISOLATING for i in incidents)
    assert alarms >= 2

    second = run_edge(args, env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == first.stdout.strip()
    assert "already stored" in second.stderr
    assert _stored(dsn, site.site_id) == (samples, batches, isolations, alarms)


def test_backfill_options_are_checked(tmp_path: Path) -> None:
    env = edge_env(backend="http://127.0.0.1:9", token="x", spool=tmp_path / "s.sqlite3")
    refused = run_edge(["backfill", "--days", "0"], env)
    assert refused.returncode == 2
    assert "argument --days: must be 1 to 365, got 0" in refused.stderr
    refused = run_edge(["backfill", "--period", "450"], env)
    assert refused.returncode == 2
    assert "period_s must be a multiple of 300 s, got 450.0" in refused.stderr
