"""A real backend process on a free loopback port, for tests that speak HTTP."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from app.config import PROJECT_ROOT

STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LiveServer:
    """A running backend: its base URL and process."""

    url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(
    env: dict[str, str],
    port: int | None = None,
    workers: int = 1,
    options: tuple[str, ...] = (),
) -> Iterator[LiveServer]:
    """Start `python -m app serve` with extra environment, wait until it answers, stop it after."""
    port = port or free_port()
    command = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        [*command, *options],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield LiveServer(url, process)
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"backend exited with {process.returncode} before answering")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"backend did not answer on {url} within {STARTUP_TIMEOUT_S} s")
