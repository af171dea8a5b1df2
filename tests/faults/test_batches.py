"""Real edge batches delivered twice, out of order and concurrently: each sample stored once."""

import asyncio
import gzip
import json
import random
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.edge_process import REFERENCE_MAPPING, edge_env, run_edge, write_site_file
from tests.factories import DeviceSite, committed_device_site
from tests.ground_truth import REFERENCE_DBC, oracle, record_simulated_log, sample_counts, stored
from tests.server import LiveServer, free_port

IN_FLIGHT = 4


def spooled_bodies(site: DeviceSite, directory: Path) -> list[bytes]:
    """Record a simulated log, replay it through the edge with no backend, return its batches."""
    site_file = write_site_file(
        directory,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        simulator="frame_period_s = 0.25\nacceleration = 600",
    )
    record_simulated_log(directory / "truth.log", site_file, seconds=5.5)
    spool = directory / "spool.sqlite3"
    env = edge_env(
        backend=f"http://127.0.0.1:{free_port()}",
        token=site.token,
        spool=spool,
        RIDETHROUGH_EDGE_DRAIN_TIMEOUT_S="0",
    )
    result = run_edge(["replay", str(directory / "truth.log"), "--config", str(site_file)], env)
    assert result.returncode == 1, result.stderr  # "the backend did not confirm every batch"
    with closing(sqlite3.connect(spool)) as db:
        return [bytes(body) for (body,) in db.execute("SELECT body FROM batch ORDER BY seq")]


async def deliver(url: str, token: str, bodies: list[bytes]) -> list[dict[str, Any]]:
    """POST every body, IN_FLIGHT at a time, as the edge does (gzip JSON, device token)."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:

        async def post(body: bytes) -> dict[str, Any]:
            async with gate:
                response = await client.post("/api/v1/ingest", content=body)
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            return answer

        return list(await asyncio.gather(*(post(body) for body in bodies)))


def latest_stamps(dsn: str, site_id: int) -> dict[tuple[int, int], int]:
    """Each module's module_latest timestamp, in epoch seconds."""
    rows = query_rows(
        dsn,
        "SELECT r.index, m.position, extract(epoch FROM l.ts)::bigint FROM module_latest l "
        "JOIN module m ON m.id = l.module_id JOIN rack r ON r.id = m.rack_id "
        "WHERE r.site_id = %s",
        site_id,
    )
    return {(string, module): ts for string, module, ts in rows}


async def test_duplicated_and_reordered_batches_store_every_sample_once(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    bodies = spooled_bodies(site, tmp_path)
    assert len(bodies) >= 5
    deliveries = bodies * 2
    random.Random(8).shuffle(deliveries)  # newest before oldest, copies side by side

    answers = await deliver(server.url, site.token, deliveries)

    firsts = sorted(a["seq"] for a in answers if not a["duplicate_batch"])
    assert firsts == list(range(1, len(bodies) + 1))  # each batch new exactly once
    for answer in answers:
        if answer["duplicate_batch"]:
            assert answer["modules"]["stored"] == 0
            assert answer["modules"]["already_stored"] == answer["modules"]["received"]
    dsn = psycopg_dsn(test_database_url)
    expected = oracle(tmp_path / "truth.log", REFERENCE_DBC, cells=16)
    assert stored(dsn, site.site_id) == expected
    rows, keys = sample_counts(dsn, site.site_id)
    assert rows == keys == len(expected)
    # Latest state is the newest sample, whatever order the batches came in.
    newest: dict[tuple[int, int], int] = {}
    for string, module, second in expected:
        newest[(string, module)] = max(second, newest.get((string, module), second))
    assert latest_stamps(dsn, site.site_id) == newest


async def test_the_same_samples_under_a_new_batch_number_are_not_stored_again(
    engine: AsyncEngine, server: LiveServer, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    bodies = spooled_bodies(site, tmp_path)
    await deliver(server.url, site.token, bodies)
    batch = json.loads(gzip.decompress(bodies[2]))
    batch["seq"] = 1_000_000  # a restored spool backup, say: new numbers, old samples
    # How many seconds the edge put in this batch depends on its flush timing; count them.
    samples = len(batch["modules"])
    assert samples >= 6  # at least one second of the site's six modules

    (answer,) = await deliver(server.url, site.token, [gzip.compress(json.dumps(batch).encode())])

    assert answer["duplicate_batch"] is False
    modules = answer["modules"]
    assert modules == {"received": samples, "stored": 0, "already_stored": samples, "rejected": 0}
