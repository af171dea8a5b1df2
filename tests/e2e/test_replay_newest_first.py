"""A recorded fault that rises and clears, replayed through the edge's own decoder, assembler
and spool, and sent newest first as the spool sends young batches: the alarm ends cleared."""

import gzip
import json
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from edge.can.protocol import load_protocol
from edge.can.sources import log_frames
from edge.collector import Collector
from edge.counters import Counters
from edge.sim.bms import M_CELL_OV_WARN
from edge.sim.faults import Fault, FaultKind
from edge.site import load_site_file
from edge.uplink.spool import Spool
from tests.db import psycopg_dsn, query_rows
from tests.e2e.test_resilience import FAST_SIM
from tests.edge_process import REFERENCE_MAPPING, write_site_file
from tests.factories import DeviceSite, committed_device_site
from tests.ground_truth import fault_bit_edges, record_with_fault
from tests.server import LiveServer

# Over the warning level only: the warning bit does not latch, so the repair clears it.
FAULT = Fault(FaultKind.CELL_OV, string=1, module=2, cell=7, size=0.30)


def spool_log(log: Path, site_file: Path, spool_path: Path) -> Spool:
    """The recorded log through the edge's collector into its spool, one batch per second."""
    site = load_site_file(site_file)
    spool, counters = Spool(spool_path), Counters()
    collector = Collector(site, load_protocol(site.mapping), spool, counters)
    collector.run(log_frames(log, counters), clock="frames")
    return spool


def send_as_the_spool_chooses(
    server: LiveServer, site: DeviceSite, spool: Spool
) -> list[dict[str, Any]]:
    """Send every batch in the order the spool picks them while they are young (live data
    first: the newest), confirming each; the bodies in the order sent."""
    young = time.time()  # the replay took well under the spool's live window
    sent = []
    while (spooled := spool.next_batch(now=young)) is not None:
        headers = {
            "Authorization": f"Bearer {site.token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        response = httpx.post(
            f"{server.url}/api/v1/ingest", content=spooled.body, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        spool.confirm(spooled.seq)
        sent.append(json.loads(gzip.decompress(spooled.body)))
    return sent


def position(sent: list[dict[str, Any]], kind: str) -> int:
    """Where in the sending order the batch with the warning's `kind` event went."""
    return next(
        i
        for i, body in enumerate(sent)
        for e in body["events"]
        if e["kind"] == kind and e.get("code") == "cell_ov_warning"
    )


async def test_a_fault_that_rose_and_cleared_ends_cleared_when_sent_newest_first(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        simulator=f"{FAST_SIM}\nsetpoint_kw = 0",
    )
    log = tmp_path / "fault.log"
    record_with_fault(log, site_file, FAULT, at=1.2, repaired_at=3.2, seconds=5.0)
    edges = fault_bit_edges(log, string=1, module=2, bit=M_CELL_OV_WARN, cells=16)
    assert [e.raised for e in edges] == [True, False]  # the ground truth: one rise, one clear

    sent = send_as_the_spool_chooses(server, site, spool_log(log, site_file, tmp_path / "s.db"))
    # The scenario: the clear's batch reached the backend before the raise's.
    assert position(sent, "fault_cleared") < position(sent, "fault_raised")
    rows = query_rows(
        psycopg_dsn(test_database_url),
        "SELECT code, state, cell_index, extract(epoch FROM raised_at)::float8, "
        "extract(epoch FROM cleared_at)::float8, occurrences FROM alarm WHERE site_id = %s",
        site.site_id,
    )
    assert len(rows) == 1
    code, state, cell_index, raised_at, cleared_at, occurrences = rows[0]
    assert (code, state, cell_index + 1, occurrences) == ("cell_ov_warning", "rtn_unacked", 7, 1)
    assert abs(raised_at - edges[0].ts) < 0.001
    assert abs(cleared_at - edges[1].ts) < 0.001
