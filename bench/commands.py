"""Command round trip through a real backend, edge and simulated BMS on loopback.

A fresh 3-string site; one backend process; `python -m edge simulate` (virtual CAN bus, the
reference protocol, 1 s telemetry period). N derate commands alternate between 50 % and 100 %
on string 1, each sent after the previous one is verified. From the command's own server-side
timestamps: queued → sent (long-poll delivery), → acked (CAN frame, BMS ACK, edge report),
→ verified (telemetry after the ACK shows the limits). The same-run baseline is the telemetry
period, which bounds how soon any effect can be seen.
Target (issue #6): request → verified p95 < 1 s. Run: .venv/bin/python -m bench.commands [-n N]
"""

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import big_site_config, create_site, fresh_database, percentiles, run
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.server import live_server

PERIOD_S = 1.0
TIMEOUT_S = 20.0


def _until_final(client: httpx.Client, code: str, command_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        for command in client.get(f"/api/v1/sites/{code}/commands", params={"limit": 5}).json()[
            "items"
        ]:
            if command["id"] == command_id and command["state"] in ("verified", "failed"):
                found: dict[str, Any] = command
                return found
        time.sleep(0.02)
    raise TimeoutError(f"command {command_id} did not finish in {TIMEOUT_S} s")


def _seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def main() -> None:
    """Run N commands and print the latency of each lifecycle step."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20, help="commands to send")
    args = parser.parse_args()
    url = fresh_database()
    config = big_site_config("bench-commands", 3, 4)
    _, token = run(create_site(url, config))
    steps: dict[str, list[float]] = {"sent": [], "acked": [], "verified": []}
    failed = 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_server(
            {"RIDETHROUGH_DATABASE_URL": url, "RIDETHROUGH_LOG_LEVEL": "WARNING"},
            options=("--no-access-log",),
        ) as server,
    ):
        client = server.client()  # signed in as an operator
        site_file = write_site_file(
            Path(tmp),
            code=config.code,
            mapping=REFERENCE_MAPPING,
            strings=3,
            modules=4,
            simulator="frame_period_s = 0.25\nsetpoint_kw = 20",  # steady, at any hour
        )
        env = edge_env(backend=server.url, token=token, spool=Path(tmp) / "spool.sqlite3")
        edge = start_edge(["simulate", "--config", str(site_file)], env)
        try:
            time.sleep(5)  # telemetry flowing
            for i in range(args.n):
                body = {
                    "kind": "derate",
                    "string": 1,
                    "pct": 50 if i % 2 == 0 else 100,
                    "reason": "other",
                    "note": "benchmark",
                }
                queued = client.post(f"/api/v1/sites/{config.code}/commands", json=body)
                queued.raise_for_status()
                done = _until_final(client, config.code, queued.json()["id"])
                if done["state"] != "verified":
                    failed += 1
                    continue
                for step, samples in steps.items():
                    samples.append(_seconds(done[f"{step}_at"], done["requested_at"]) * 1000)
        finally:
            edge.terminate()
            edge.communicate(timeout=60)
    print(f"{args.n} derate commands, {failed} failed; telemetry period {PERIOD_S:g} s")
    for step, samples in steps.items():
        p50, p95 = percentiles(samples)
        print(
            f"queued -> {step:<9} p50 {p50:7.0f} ms   p95 {p95:7.0f} ms   "
            f"p95 / period {p95 / (PERIOD_S * 1000):5.2f}x"
        )
    verified_p95 = percentiles(steps["verified"])[1]
    verdict = "met" if verified_p95 < 1000 else "NOT met"
    print(f"target: request -> verified p95 < 1000 ms: {verdict}")


if __name__ == "__main__":
    main()
