"""Fleet load: many simulated sites streaming to one backend for minutes.

Two feeds. `--feed can`: each site is a real `python -m edge simulate` process (simulated BMS
on a python-can virtual bus, decode, assembly, spool, uplink), the whole path. `--feed replay`:
each site is a real edge spool and uplink in one process, replaying batches that a real edge
produced (bench/replay_feed.py), so the fleet's CAN simulation does not take the machine's
cores from the backend. Either posts to one backend (`--workers 2`, background jobs on). While
they stream, the benchmark samples once a second the ingest lag of every site
(now minus the newest stored sample) and times the operator's screens as a viewer: the fleet
overview, a site page and the alarm list. Retention runs every 5 s instead of hourly, to show
it never blocks ingest. Afterwards the edges stop and the same screens are timed again on the
same data with nothing streaming: the same-run baseline for the screens under load.
Targets: lag under 5 s at every tick; every screen's p95 under 150 ms under load.
Run: .venv/bin/python -m bench.load [--feed replay|can --sites 20 --modules 20 --minutes 3]
"""

import argparse
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import psycopg

from bench.common import big_site_config, cpu_busy_s, create_site, fresh_database, percentiles, run
from bench.replay_feed import ReplayFleet, ReplaySite, capture_batches
from tests.db import psycopg_dsn
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.server import LiveServer, live_server

MAX_LAG_S = 5.0
SCREEN_P95_MS = 150.0
LAG_SQL = """
SELECT r.site_id, extract(epoch FROM now() - max(l.ts)) FROM module_latest l
JOIN module m ON m.id = l.module_id JOIN rack r ON r.id = m.rack_id GROUP BY r.site_id
"""


class Feed(Protocol):
    """Sites streaming to the backend: their spool files, and how to stop them."""

    spools: list[Path]

    def stop(self) -> None:
        """Stop producing and let every spool drain."""


def fullest_spool(feed: Feed) -> int:
    """Batches waiting in the fullest edge spool: above one or two, the uplink is behind."""
    depths = []
    for spool in feed.spools:
        with closing(sqlite3.connect(spool)) as db:
            depths.append(int(db.execute("SELECT count(*) FROM batch").fetchone()[0]))
    return max(depths)


def register_sites(url: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The load sites in the registry: (site code, edge token) each."""
    sites = []
    for n in range(1, args.sites + 1):
        code = f"load-{n:02d}"
        _, token = run(create_site(url, big_site_config(code, args.strings, args.modules)))
        sites.append((code, token))
    return sites


@dataclass
class EdgeFleet:
    """One real edge process per site, each with its simulated BMS on a virtual CAN bus."""

    spools: list[Path] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def stop(self) -> None:
        """SIGTERM every edge and wait for them (each drains its spool first)."""
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(timeout=120)


def start_edge_fleet(
    sites: list[tuple[str, str]], args: argparse.Namespace, backend: str, work: Path
) -> EdgeFleet:
    """One edge process per site, simulating and decoding its CAN traffic."""
    fleet = EdgeFleet()
    for code, token in sites:
        site_file = write_site_file(
            work,
            code=code,
            mapping=REFERENCE_MAPPING,
            strings=args.strings,
            modules=args.modules,
            simulator=f"frame_period_s = {args.frame_period}",
        )
        fleet.spools.append(work / f"{code}.sqlite3")
        env = edge_env(
            backend=backend,
            token=token,
            spool=fleet.spools[-1],
            RIDETHROUGH_EDGE_LOG_LEVEL="WARNING",
        )
        command = ["simulate", "--config", str(site_file)]
        fleet.processes.append(start_edge(command, env, output=subprocess.DEVNULL))
    return fleet


def start_replay_fleet(
    sites: list[tuple[str, str]], args: argparse.Namespace, backend: str, work: Path
) -> ReplayFleet:
    """Every site's uplink replaying batches captured from one real simulated edge."""
    templates = capture_batches(work, strings=args.strings, modules=args.modules, seconds=12)
    fleet = ReplayFleet(
        [
            ReplaySite(code, token, backend=backend, spool=work / f"{code}.sqlite3")
            for code, token in sites
        ],
        templates,
    )
    fleet.start()
    return fleet


def screens(code: str) -> dict[str, str]:
    """The operator's screens, by name."""
    return {"fleet overview": "/", f"site page ({code})": f"/sites/{code}", "alarms": "/alarms"}


def time_get(client: httpx.Client, path: str) -> float:
    """Milliseconds for one GET (which must succeed)."""
    begin = time.perf_counter()
    client.get(path).raise_for_status()
    return (time.perf_counter() - begin) * 1000


def measure_under_load(
    server: LiveServer, dsn: str, code: str, seconds: float
) -> tuple[list[float], dict[str, list[float]]]:
    """Once a second, at a random moment of it: the worst site's lag and a GET of each screen.

    The sites upload once a second; sampling at a fixed moment of the second would always, or
    never, meet their burst of uploads, so each second's moment is drawn at random.
    """
    lags: list[float] = []
    timings: dict[str, list[float]] = {name: [] for name in screens(code)}
    client = server.client("viewer")
    moments = random.Random(8)  # the same draws every run
    deadline = time.monotonic() + seconds
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            second = time.monotonic()
            time.sleep(moments.uniform(0.0, 0.9))
            lags.append(max(float(lag) for _, lag in conn.execute(LAG_SQL).fetchall()))
            for name, path in screens(code).items():
                timings[name].append(time_get(client, path))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - second)))
    return lags, timings


def idle_timings(server: LiveServer, code: str, repeats: int) -> dict[str, list[float]]:
    """The same screens on the same data with nothing streaming."""
    client = server.client("viewer")
    return {
        name: [time_get(client, path) for _ in range(repeats)]
        for name, path in screens(code).items()
    }


# Per module: samples stored over the seconds from its first sample to its last, inclusive.
COVERAGE_SQL = """
SELECT sum(n)::float8 / sum(span) FROM (
    SELECT count(*) AS n, extract(epoch FROM max(ts) - min(ts)) + 1 AS span
    FROM module_sample GROUP BY module_id) per_module
"""


def stored_share(dsn: str) -> float:
    """Seconds with a stored sample per second of each module's stream (1.0: none missing)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(COVERAGE_SQL).fetchone()
    assert row is not None
    return float(row[0])


@dataclass(frozen=True)
class Results:
    """What one load run measured."""

    lags: list[float]  # worst site's lag, once a second, in seconds
    loaded: dict[str, list[float]]  # screen -> ms under load
    idle: dict[str, list[float]]  # screen -> ms afterwards, same data, nothing streaming
    share: float  # seconds with a sample per second of each module's stream
    backlog: int  # batches waiting in the fullest spool when the measurement ended
    cpu: float  # share of both cores busy during the measurement


def report(args: argparse.Namespace, results: Results) -> bool:
    """Print the figures; True when every target is met."""
    modules = args.sites * args.strings * args.modules
    print(
        f"load: {args.sites} sites x {args.strings * args.modules} modules at 1 Hz "
        f"({modules} module samples/s) for {args.minutes} min, feed {args.feed} "
        f"({FEEDS[args.feed]}); "
        f"machine CPU {results.cpu:.0%} busy"
    )
    lags = results.lags
    print(
        f"ingest lag (worst site, each second): p50 {statistics.median(lags):.2f} s  "
        f"p95 {percentiles(lags)[1]:.2f} s  max {max(lags):.2f} s; "
        f"seconds stored per second of each module's stream {results.share:.3f}; "
        f"fullest spool at the end: {results.backlog} batches"
    )
    ok = max(lags) < MAX_LAG_S
    for name, samples in results.loaded.items():
        p50, p95 = percentiles(samples)
        base = percentiles(results.idle[name])[1]
        print(
            f"{name:<26} under load p50 {p50:6.1f} ms p95 {p95:6.1f} ms   idle p95 "
            f"{base:6.1f} ms   load / idle (p95) {p95 / base:5.2f}x"
        )
        ok = ok and p95 < SCREEN_P95_MS
    print(
        f"targets: lag < {MAX_LAG_S:.0f} s, screens p95 < {SCREEN_P95_MS:.0f} ms: "
        f"{'met' if ok else 'NOT met'}"
    )
    return ok


FEEDS = {
    "can": "an edge process per site: simulated BMS, CAN decode, spool, uplink",
    "replay": "a real spool and uplink per site replaying captured edge batches",
}


def main() -> None:
    """Start the backend and the fleet, measure under load, then idle, and report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--feed",
        choices=sorted(FEEDS),
        default="replay",
        help="; ".join(f"{k}: {v}" for k, v in FEEDS.items()),
    )
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--strings", type=int, default=10)
    parser.add_argument("--modules", type=int, default=20, help="modules per string")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before measuring")
    parser.add_argument(
        "--frame-period",
        type=float,
        default=0.5,
        help="seconds between the simulated BMS's bursts (0.5: every one-second period has data)",
    )
    args = parser.parse_args()
    url = fresh_database()
    dsn = psycopg_dsn(url)
    # Retention every 5 s instead of hourly: it must not get in ingest's way (a run that held
    # several hypertables' locks at once once deadlocked with it).
    env = {"RIDETHROUGH_DATABASE_URL": url, "RIDETHROUGH_RETENTION_INTERVAL_S": "5"}
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_server(env, workers=2, options=("--no-access-log",)) as server,
    ):
        sites = register_sites(url, args)
        start = start_replay_fleet if args.feed == "replay" else start_edge_fleet
        fleet: Feed = start(sites, args, server.url, Path(tmp))
        try:
            time.sleep(args.warmup)
            cpu_before, began = cpu_busy_s(), time.monotonic()
            lags, loaded = measure_under_load(server, dsn, sites[0][0], args.minutes * 60)
            cpu = (cpu_busy_s() - cpu_before) / ((time.monotonic() - began) * 2)
            backlog = fullest_spool(fleet)
        finally:
            fleet.stop()
        share = stored_share(dsn)
        idle = idle_timings(server, sites[0][0], repeats=60)
    sys.exit(0 if report(args, Results(lags, loaded, idle, share, backlog, cpu)) else 1)


if __name__ == "__main__":
    main()
