"""The edge killed with SIGKILL mid-batch and mid-command, then restarted."""

import asyncio
import time
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.e2e.test_resilience import batch_seqs
from tests.factories import committed_device_site
from tests.faults.proxy import FaultProxy, fault_proxy
from tests.faults.streaming import StreamingSite, assert_matches_truth
from tests.ground_truth import command_frames_sent, sample_counts, stored
from tests.server import LiveServer

INGEST = b"POST /api/v1/ingest"
RESULT = b"POST /api/v1/edge/commands/"


async def until_held(proxy: FaultProxy, *prefixes: bytes, timeout_s: float = 20) -> None:
    """Wait until the proxy is holding an answer to each prefix."""
    deadline = time.monotonic() + timeout_s
    while not all(proxy.held[p] for p in prefixes):
        assert time.monotonic() < deadline, f"no answer held: {dict(proxy.held)}"
        await asyncio.sleep(0.05)


async def until_stored_beyond(dsn: str, site: StreamingSite, seq: int) -> None:
    """Wait (up to a minute: an edge starts slowly on a busy machine) for a batch after `seq`."""
    deadline = time.monotonic() + 60
    while max(batch_seqs(dsn, site.site), default=0) <= seq:
        assert time.monotonic() < deadline, f"no batch after {seq} was stored"
        await asyncio.sleep(0.2)


def command_row(dsn: str, command_id: int) -> tuple[str, str | None]:
    """A command's state and result detail in the backend."""
    sql = "SELECT state, result->>'detail' FROM command WHERE id = %s"
    ((state, detail),) = query_rows(dsn, sql, command_id)
    return state, detail


async def test_edge_killed_after_the_backend_stored_but_before_it_heard_back(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    dsn = psycopg_dsn(test_database_url)
    site = StreamingSite(
        await committed_device_site(engine), tmp_path, simulator_extra="setpoint_kw = 20"
    )
    with fault_proxy(urlparse(server.url).port or 0) as proxy:
        site.start(proxy.url)
        await asyncio.sleep(4)
        # From now on the backend acts on batches and command results, but the edge never
        # hears that it did.
        proxy.hold_answers_to(INGEST, RESULT)
        request = {"kind": "derate", "string": 1, "pct": 50, "reason": "fault", "note": "kill"}
        queued = server.http.post(f"/api/v1/sites/{site.site.code}/commands", json=request)
        assert queued.status_code == 201, queued.text
        command_id = queued.json()["id"]
        await until_held(proxy, INGEST, RESULT)
        site.kill()
        # The state a kill mid-batch leaves: a batch stored by the backend, still in the spool.
        stored_seqs = set(batch_seqs(dsn, site.site))
        assert site.spool_seqs() & stored_seqs
        state_at_kill = command_row(dsn, command_id)
        proxy.release_answers()

        site.start(proxy.url)
        await until_stored_beyond(dsn, site, max(stored_seqs))  # the new run sends
        output = site.stop()

    assert site.spool_depth() == 0
    seqs = batch_seqs(dsn, site.site)
    assert seqs == list(range(1, seqs[-1] + 1))  # every batch once, none missing
    rows, keys = sample_counts(dsn, site.site.site_id)
    assert rows == keys
    exact, run_ends = site.truth()
    assert_matches_truth(stored(dsn, site.site.site_id), exact, run_ends)
    # The command was carried out once: one CMD frame on the bus over both runs, and its
    # result, recorded before the kill, was not replaced.
    assert sum(command_frames_sent(log, command_id) for log in site.logs) == 1, output
    assert command_row(dsn, command_id) == state_at_kill
    assert state_at_kill[0] in {"acked", "verified"}, state_at_kill
