"""Server-side render time of the site page for a 2,016-module site, through a running backend.

The site gets one full batch of latest state through the real ingest endpoint (every module
and string), a standing alarm on every eighth module, and 24 h of string minute-rollups so the
spread KPI has work to do. Then, against one backend process (`--no-access-log`, jobs off),
sequential GETs measure, p50/p95:
1. the full site page (what a browser loads),
2. the live part alone (`HX-Target: site_live`, what each live refresh loads),
3. `/healthz`, the same-run baseline: an HTTP round trip that does no work.
Target: full page p95 < 150 ms. Run: .venv/bin/python -m bench.site_page [--requests N]
"""

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.common import big_site_config, create_site, fresh_database, percentiles, run
from bench.ingest import site_batch
from bench.queries import RACK_ROLLUPS
from tests.server import live_server
from tests.wire import event

TARGET_P95_MS = 150.0


def add_alarms(body: dict[str, Any], strings: int, modules: int) -> None:
    """A cell over-voltage warning on every eighth module."""
    body["events"] = [
        event("fault_raised", 0.5, s, m, "cell_ov_warning")
        for s in range(1, strings + 1)
        for m in range(1, modules + 1)
        if (s * modules + m) % 8 == 0
    ]


async def add_rollups(url: str, site_id: int, end: datetime) -> None:
    """24 h of per-minute string rollups for the spread KPI."""
    engine = create_async_engine(url)
    async with AsyncSession(engine) as session, session.begin():
        params = {"start": end - timedelta(hours=24), "end": end, "site": site_id}
        await session.execute(RACK_ROLLUPS, params)
    await engine.dispose()


def timings(client: httpx.Client, path: str, repeats: int, headers: dict[str, str]) -> list[float]:
    """Milliseconds per GET, after one warm-up."""
    client.get(path, headers=headers).raise_for_status()
    samples = []
    for _ in range(repeats):
        begin = time.perf_counter()
        client.get(path, headers=headers).raise_for_status()
        samples.append((time.perf_counter() - begin) * 1000)
    return samples


def main() -> None:
    """Build the site, measure the three requests, print p50/p95 and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strings", type=int, default=63)
    parser.add_argument("--modules-per-string", type=int, default=32)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    url = fresh_database()
    config = big_site_config("bench-site-page", args.strings, args.modules_per_string)
    site, token = run(create_site(url, config))
    now = datetime.now(UTC)
    body = site_batch(
        config.code, args.strings, args.modules_per_string, edge_id=str(uuid.uuid4()), seq=1, ts=now
    )
    add_alarms(body, args.strings, args.modules_per_string)
    run(add_rollups(url, site.site_id, now))
    env = {"RIDETHROUGH_DATABASE_URL": url, "RIDETHROUGH_JOBS_ENABLED": "false"}
    with (
        live_server(env, options=("--no-access-log",)) as server,
    ):
        client = server.client()  # signed in as an operator
        client.post(
            "/api/v1/ingest", json=body, headers={"Authorization": f"Bearer {token}"}
        ).raise_for_status()
        page = f"/sites/{config.code}"
        full = percentiles(timings(client, page, args.requests, {}))
        live = percentiles(
            timings(client, page, args.requests, {"HX-Request": "true", "HX-Target": "site_live"})
        )
        floor = percentiles(timings(client, "/healthz", args.requests, {}))
    modules = args.strings * args.modules_per_string
    print(f"site page, {modules} modules, {args.requests} sequential requests each")
    for label, (p50, p95) in (("full page", full), ("live part", live), ("/healthz", floor)):
        print(
            f"{label:<11} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   "
            f"p95 / healthz {p95 / floor[1]:6.1f}x"
        )
    verdict = "met" if full[1] < TARGET_P95_MS else "NOT met"
    print(f"target: full page p95 < {TARGET_P95_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
