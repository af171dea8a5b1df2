"""Simulated sites streaming through real edge processes, each run recording its ground truth."""

import asyncio
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.test_resilience import FAST_SIM
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.factories import DeviceSite
from tests.ground_truth import Samples, recorded_truth

# The last seconds of a run may hold frames the collector never read (it stopped, or was
# killed, while they were queued): they are checked as "stored only if sent", not exactly.
RUN_EDGE_S = 3


@dataclass
class StreamingSite:
    """One site's edge process (`python -m edge simulate --record`), restartable."""

    site: DeviceSite
    directory: Path
    spool_max_mb: float = 256
    faults: tuple[str, ...] = ()
    simulator_extra: str = ""
    logs: list[Path] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None

    def __post_init__(self) -> None:
        self.site_file = write_site_file(
            self.directory,
            code=self.site.code,
            mapping=REFERENCE_MAPPING,
            simulator=f"{FAST_SIM}\n{self.simulator_extra}",
            spool_max_mb=self.spool_max_mb,
        )
        self.spool = self.directory / f"{self.site.code}.sqlite3"

    def start(self, backend_url: str, clock_offset_s: float = 0) -> None:
        """Start a new edge run (its wall clock off by `clock_offset_s`); its simulator's
        frames go to a new truth log."""
        log = self.directory / f"{self.site.code}-run{len(self.logs) + 1}.log"
        self.logs.append(log)
        env = edge_env(
            backend=backend_url,
            token=self.site.token,
            spool=self.spool,
            RIDETHROUGH_TEST_CLOCK_OFFSET_S=str(clock_offset_s),
        )
        args = ["simulate", "--config", str(self.site_file), "--record", str(log)]
        for fault in self.faults:
            args += ["--fault", fault]
        module = "tests.faults.skewed_clock" if clock_offset_s else "edge"
        self.process = start_edge(args, env, module)

    def stop(self) -> str:
        """SIGTERM (the edge flushes and drains its spool); returns its output."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=90)
        assert self.process.returncode == 0, output
        return output

    def kill(self) -> None:
        """SIGKILL: no flush, no drain, nothing closed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate(timeout=30)

    def _spool_rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows read from the edge's spool file (the edge may be writing it: WAL allows that)."""
        with closing(sqlite3.connect(self.spool)) as db:
            return db.execute(sql).fetchall()

    def spool_depth(self) -> int:
        """Batches still waiting in the edge's spool file."""
        return int(self._spool_rows("SELECT count(*) FROM batch")[0][0])

    def spool_seqs(self) -> set[int]:
        """Sequence numbers of the batches still in the edge's spool file."""
        return {seq for (seq,) in self._spool_rows("SELECT seq FROM batch")}

    def spool_bytes(self) -> int:
        """Bytes of batches in the edge's spool file."""
        return int(self._spool_rows("SELECT coalesce(sum(bytes), 0) FROM batch")[0][0])

    def spool_dropped(self) -> int:
        """Batches the edge's spool has dropped for lack of room, as it counts them."""
        return int(self._spool_rows("SELECT value FROM meta WHERE key = 'dropped'")[0][0])

    def truth(self) -> tuple[Samples, Samples]:
        """What the simulators sent: samples to match exactly, and each run's last seconds."""
        exact: Samples = {}
        run_ends: Samples = {}
        for log in self.logs:
            samples = recorded_truth(log)
            last = max(second for _, _, second in samples)
            for key, cells in samples.items():
                (run_ends if key[2] > last - RUN_EDGE_S else exact)[key] = cells
        return exact, run_ends


def assert_matches_truth(stored: Samples, exact: Samples, run_ends: Samples) -> None:
    """Every sample sent is stored, with the values sent; nothing stored was not sent."""
    missing = sorted(set(exact) - set(stored))
    assert not missing, f"{len(missing)} samples lost, first {missing[:5]}"
    wrong = sorted(key for key in exact if stored[key] != exact[key])
    assert not wrong, f"{len(wrong)} samples differ, first {wrong[:5]}"
    invented = sorted(set(stored) - set(exact) - set(run_ends))
    assert not invented, f"{len(invented)} samples never sent, first {invented[:5]}"


async def until_drained(sites: list[StreamingSite], timeout_s: float = 90) -> None:
    """Wait until every site's edge has had its whole backlog confirmed by the backend."""
    deadline = time.monotonic() + timeout_s
    while any(site.spool_depth() > 1 for site in sites):  # 1: the live batch in flight
        assert time.monotonic() < deadline, [site.spool_depth() for site in sites]
        await asyncio.sleep(0.5)
