"""`python -m edge` stops gracefully on SIGTERM at any moment, and within its drain deadline."""

import signal
import subprocess
import time
from pathlib import Path

from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file

NO_BACKEND = "http://127.0.0.1:9"  # the discard port: nothing listens there
SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (its caught-signals mask in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt"))
    return bool(int(mask, 16) & SIGTERM_BIT)


def simulated_edge(tmp_path: Path, drain_s: float) -> subprocess.Popen[str]:
    """A simulating edge whose backend never answers."""
    site = write_site_file(tmp_path, code="stopping", mapping=REFERENCE_MAPPING)
    env = edge_env(
        backend=NO_BACKEND,
        token="t" * 32,
        spool=tmp_path / "spool.sqlite3",
        RIDETHROUGH_EDGE_DRAIN_TIMEOUT_S=str(drain_s),
    )
    return start_edge(["simulate", "--config", str(site)], env)


def terminate(edge: subprocess.Popen[str], timeout_s: float) -> tuple[str, float]:
    """SIGTERM the edge; its output and how long it took to exit."""
    edge.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        output, _ = edge.communicate(timeout=timeout_s)
    finally:
        edge.kill()
    return output, time.monotonic() - started


def test_a_sigterm_while_the_edge_still_imports_stops_it_gracefully(tmp_path: Path) -> None:
    edge = simulated_edge(tmp_path, drain_s=1)
    # The edge takes about two seconds to import; its handler must be there long before.
    deadline = time.monotonic() + 1.0
    while not catches_sigterm(edge.pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    output, _ = terminate(edge, timeout_s=90)
    assert edge.returncode == 0, output  # not -15: it was not killed half-started
    assert "asked to stop while starting" in output


def test_an_edge_with_no_backend_stops_within_its_drain_deadline(tmp_path: Path) -> None:
    edge = simulated_edge(tmp_path, drain_s=2)
    assert edge.stdout is not None
    for line in edge.stdout:  # running: its first batch waits in the spool
        if "stays spooled" in line:
            break
    output, took_s = terminate(edge, timeout_s=60)
    assert edge.returncode == 0, output
    assert "they stay in the spool for the next run" in output
    # The drain deadline plus closing (uplink join 5 s, bus shutdown), never an endless wait.
    assert took_s < 2 + 15, output
