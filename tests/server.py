"""A real backend process on a free loopback port, for tests that speak HTTP."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import httpx

from app.config import PROJECT_ROOT
from tests.db import psycopg_dsn
from tests.signin import ensure_user, sign_in

STARTUP_TIMEOUT_S = 90.0  # a loaded CI machine took over 30 s to import and start the app


@dataclass(frozen=True)
class LiveServer:
    """A running backend: its base URL and process, and signed-in clients per role."""

    url: str
    process: subprocess.Popen[bytes]
    database_url: str = ""
    signed_in: dict[str, tuple[dict[str, str], str]] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def credentials(self, role: str = "operator") -> tuple[dict[str, str], str]:
        """The session cookie and CSRF token of the role's test user (signed in once)."""
        if role not in self.signed_in:
            username = ensure_user(psycopg_dsn(self.database_url), role)
            self.signed_in[role] = sign_in(self.url, username)
        return self.signed_in[role]

    def client(self, role: str = "operator") -> httpx.Client:
        """An HTTP client signed in as the role's test user, sending its CSRF token."""
        if role not in self.clients:
            cookies, csrf = self.credentials(role)
            self.clients[role] = httpx.Client(
                base_url=self.url, cookies=cookies, headers={"X-CSRF-Token": csrf}, timeout=60
            )
        return self.clients[role]

    @property
    def http(self) -> httpx.Client:
        """A client signed in as an operator."""
        return self.client("operator")

    def async_client(self, role: str = "operator") -> httpx.AsyncClient:
        """A new async client signed in as the role's test user (the caller closes it)."""
        cookies, csrf = self.credentials(role)
        return httpx.AsyncClient(
            base_url=self.url, cookies=cookies, headers={"X-CSRF-Token": csrf}, timeout=30
        )


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
    log: IO[bytes] | None = None,
    *,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> Iterator[LiveServer]:
    """Start `python -m app serve` with extra environment, wait until it answers, stop it after.

    `log`, if given, receives the server's output (stdout and stderr) instead of the terminal.
    """
    port = port or free_port()
    command = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        [*command, *options],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=None if log is None else subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, startup_timeout_s)
        yield LiveServer(url, process, env.get("RIDETHROUGH_DATABASE_URL", ""))
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"backend exited with {process.returncode} before answering")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"backend did not answer on {url} within {timeout_s} s")
