"""Nothing lost: the backend goes away mid-stream, the edge is killed with SIGKILL."""

import asyncio
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.factories import DeviceSite, committed_device_site
from tests.ground_truth import sample_counts
from tests.server import free_port, live_server

FAST_SIM = "frame_period_s = 0.25\nacceleration = 60"


def per_module_seconds(dsn: str, site_id: int) -> dict[int, list[int]]:
    """For each module of a site, the epoch seconds of its stored samples, in order."""
    rows = query_rows(
        dsn,
        "SELECT s.module_id, extract(epoch FROM s.ts)::bigint FROM module_sample s "
        "JOIN module m ON m.id = s.module_id JOIN rack r ON r.id = m.rack_id "
        "WHERE r.site_id = %s ORDER BY 1, 2",
        site_id,
    )
    out: dict[int, list[int]] = {}
    for module_id, second in rows:
        out.setdefault(module_id, []).append(second)
    return out


def batch_seqs(dsn: str, site: DeviceSite) -> list[int]:
    """Sequence numbers of the batches the backend stored for the site's device."""
    sql = (
        "SELECT b.seq FROM ingest_batch b JOIN edge_device d ON d.id = b.edge_device_id "
        "WHERE d.site_id = %s ORDER BY 1"
    )
    return [seq for (seq,) in query_rows(dsn, sql, site.site_id)]


def stop_edge(process: subprocess.Popen[str]) -> str:
    """SIGTERM the edge (it drains its spool) and return its output."""
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


async def test_backend_down_during_streaming_loses_nothing(
    engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    site_file = write_site_file(
        tmp_path, code=site.code, mapping=REFERENCE_MAPPING, simulator=FAST_SIM
    )
    port = free_port()
    server_env = {"RIDETHROUGH_DATABASE_URL": test_database_url}
    env = edge_env(
        backend=f"http://127.0.0.1:{port}", token=site.token, spool=tmp_path / "spool.sqlite3"
    )
    with live_server(server_env, port=port):
        edge = start_edge(["simulate", "--config", str(site_file)], env)
        await asyncio.sleep(4)
    await asyncio.sleep(6)  # backend away: the edge keeps collecting into its spool
    with live_server(server_env, port=port):
        await asyncio.sleep(6)  # backlog drains behind live data
        stop_edge(edge)

    dsn = psycopg_dsn(test_database_url)
    seconds = per_module_seconds(dsn, site.site_id)
    assert set(seconds) == set(site.module_ids)
    for module_id, stamps in seconds.items():
        # Every second from first to last sample is there, exactly once (no gap, no duplicate).
        assert stamps == list(range(stamps[0], stamps[-1] + 1)), module_id
        assert len(stamps) >= 14
    seqs = batch_seqs(dsn, site)
    assert seqs == list(range(1, seqs[-1] + 1))


async def test_edge_killed_mid_stream_resends_without_duplicates(
    engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    site_file = write_site_file(
        tmp_path, code=site.code, mapping=REFERENCE_MAPPING, simulator=FAST_SIM
    )
    with live_server({"RIDETHROUGH_DATABASE_URL": test_database_url}) as server:
        env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
        first = start_edge(["simulate", "--config", str(site_file)], env)
        await asyncio.sleep(4)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        second = start_edge(["simulate", "--config", str(site_file)], env)
        dsn = psycopg_dsn(test_database_url)
        # Run the restarted edge until enough has been stored to judge (a fixed 4 s was
        # sometimes a second short on a loaded machine), within a bound.
        deadline = time.monotonic() + 20
        while sample_counts(dsn, site.site_id)[1] < 6 * 6:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        stop_edge(second)

    seqs = batch_seqs(dsn, site)
    # The spool survived the kill: every batch it numbered reached the backend, once.
    assert seqs == list(range(1, seqs[-1] + 1))
    rows, keys = sample_counts(dsn, site.site_id)
    assert rows == keys >= 6 * 5
