"""Helpers to run the edge as a real subprocess against a live backend."""

import os
import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT

# Edge processes started by the running test (tests/conftest.py kills those left running).
STARTED: list[subprocess.Popen[str]] = []

REFERENCE_MAPPING = PROJECT_ROOT / "edge" / "protocols" / "reference.toml"
OTHER_MAPPING = PROJECT_ROOT / "tests" / "protocols" / "other_vendor.toml"


def write_site_file(
    directory: Path,
    *,
    code: str,
    mapping: Path,
    strings: int = 2,
    modules: int = 3,
    cells: int = 16,
    temps: int = 4,
    simulator: str = "",
    policy: str | None = None,
    spool_max_mb: float = 256,
) -> Path:
    """A site file for a test site (same topology as the backend's factory site)."""
    path = directory / f"{code}.toml"
    path.write_text(
        f'mapping = "{mapping}"\n\n[site]\ncode = "{code}"\nstrings = {strings}\n'
        f"modules_per_string = {modules}\ncells_per_module = {cells}\n"
        f"temps_per_module = {temps}\nmodule_capacity_ah = 280\nstring_rated_a = 140\n"
        "nameplate_power_kw = 100\nnameplate_energy_kwh = 200\n\n"
        f'[[bus]]\ninterface = "virtual"\nchannel = "{code}"\n\n'
        f"[collector]\nperiod_s = 1.0\ncomms_timeout_s = 3.0\nspool_max_mb = {spool_max_mb}\n\n"
        f"[simulator]\n{simulator}\n" + ("" if policy is None else f"\n[policy]\n{policy}\n")
    )
    return path


# The reference protocol's tiers, as the demo sites configure them.
REFERENCE_POLICY = """\
warning = ["cell_ov_warning", "cell_uv_warning", "over_temp_warning", "insulation_warning"]
alarm = ["cell_ov_alarm", "cell_uv_alarm", "over_temp_alarm", "insulation_alarm"]
derate_pct = 50
"""


def edge_env(*, backend: str, token: str, spool: Path, **extra: str) -> dict[str, str]:
    """The environment of an edge process talking to a test backend."""
    return {
        **os.environ,
        "RIDETHROUGH_EDGE_BACKEND_URL": backend,
        "RIDETHROUGH_EDGE_TOKEN": token,
        "RIDETHROUGH_EDGE_SPOOL_PATH": str(spool),
        "RIDETHROUGH_EDGE_DRAIN_TIMEOUT_S": "30",
        **extra,
    }


def run_edge(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m edge ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_edge(
    args: list[str], env: dict[str, str], module: str = "edge", output: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """Start `python -m edge ARGS` (or a module that wraps it) in the background."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    STARTED.append(process)
    return process


def kill_leftover_edges() -> None:
    """SIGKILL every edge a test started and left running (it failed before stopping it)."""
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
