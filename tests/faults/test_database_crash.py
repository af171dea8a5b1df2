"""The database crashes and restarts mid-ingest: every sample the edge was told is stored is."""

import asyncio
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import PROJECT_ROOT
from tests.db import BASE_URL, psycopg_dsn
from tests.e2e.test_resilience import batch_seqs
from tests.factories import committed_device_site
from tests.faults.streaming import StreamingSite, assert_matches_truth
from tests.ground_truth import sample_counts, stored
from tests.server import live_server


def crash_restart_database() -> None:
    """Immediate shutdown of the project's cluster and a start with crash recovery."""
    subprocess.run(
        ["bash", "scripts/db.sh", "crash-restart"],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )


def on_project_cluster() -> bool:
    """Whether the tests run on the cluster scripts/db.sh controls (the one `make test` starts)."""
    port = subprocess.run(
        ["bash", "scripts/db.sh", "url"],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return make_url(port).port == make_url(BASE_URL).port


@pytest.mark.skipif(not on_project_cluster(), reason="crashes only the project's own cluster")
async def test_database_crash_mid_ingest_loses_no_confirmed_batch(
    engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = StreamingSite(await committed_device_site(engine), tmp_path)
    with live_server({"RIDETHROUGH_DATABASE_URL": test_database_url}) as server:
        site.start(server.url)
        await asyncio.sleep(6)
        crash_restart_database()
        await engine.dispose()  # this test's own pooled connections died with the server
        await asyncio.sleep(8)  # the edge retries until the backend can store again
        site.stop()

    dsn = psycopg_dsn(test_database_url)
    assert site.spool_depth() == 0
    seqs = batch_seqs(dsn, site.site)
    assert seqs == list(range(1, seqs[-1] + 1))
    rows, keys = sample_counts(dsn, site.site.site_id)
    assert rows == keys
    exact, run_ends = site.truth()
    assert len(exact) >= 6 * 10
    assert_matches_truth(stored(dsn, site.site.site_id), exact, run_ends)
