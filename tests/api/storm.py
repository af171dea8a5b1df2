"""An export storm's parts: a site with a large range to export, clients that stop reading,
and the timed ingest batches and commands that must keep going meanwhile."""

import asyncio
import gzip
import json
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

import httpx
import psycopg

from tests.wire import batch, full_site_rows

STRINGS, MODULES = 3, 10
FILL = """
INSERT INTO module_sample (module_id, ts, cell_v, cell_v_min, cell_v_max, cell_v_avg,
                           cell_v_min_idx, cell_v_max_idx, temp_c, soc_pct)
SELECT m, %(start)s + s * interval '1 second',
       array_fill(3.3::real, ARRAY[16]), 3.3, 3.3, 3.3, 0, 0, ARRAY[25.0]::real[], 50
FROM unnest(%(modules)s::int[]) m, generate_series(0, %(seconds)s - 1) s
"""


def fill_samples(dsn: str, module_ids: list[int], start: datetime, seconds: int) -> None:
    """One raw sample a second for every module (plain SQL: the data, not ingest, is the point)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(FILL, {"start": start, "modules": module_ids, "seconds": seconds})


@dataclass
class StalledExport:
    """An export whose client read the head of the answer and then stopped reading."""

    status: int
    headers: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def read_to_end(self, timeout_s: float) -> bytes:
        """Whatever the server still sends, until it closes the connection."""
        return await asyncio.wait_for(self.reader.read(), timeout_s)

    def close(self) -> None:
        """Hang up."""
        self.writer.close()


async def open_stalled(url: str, path: str, params: dict[str, str], token: str) -> StalledExport:
    """GET an export over a socket with a tiny receive buffer, and read only the head."""
    host, port = urlsplit(url).hostname or "", urlsplit(url).port or 80
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    # A small limit: the reader stops taking bytes from the socket once 8 KB are buffered.
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(
        f"GET {path}?{urlencode(params)} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)).decode()
    status_line, *lines = head.strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return StalledExport(int(status_line.split()[1]), headers, reader, writer)


async def read_body(export: StalledExport) -> bytes:
    """A short answer's body (a refusal), by its Content-Length."""
    return await export.reader.readexactly(int(export.headers["content-length"]))


async def timed_ingest(
    client: httpx.AsyncClient, code: str, token: str, seq: int, ts: datetime
) -> tuple[int, float]:
    """Post one batch of the whole site as the edge does; (status, seconds taken)."""
    body = gzip.compress(
        json.dumps(batch(code, seq, **full_site_rows(ts, STRINGS, MODULES))).encode()
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    began = time.perf_counter()
    answer = await client.post("/api/v1/ingest", content=body, headers=headers, timeout=60)
    return answer.status_code, time.perf_counter() - began


async def timed_command(client: httpx.AsyncClient, code: str, string: int) -> tuple[int, float]:
    """An operator's derate of one string; (status, seconds taken)."""
    body = {"kind": "derate", "string": string, "pct": 50, "reason": "maintenance", "note": "storm"}
    began = time.perf_counter()
    answer = await client.post(f"/api/v1/sites/{code}/commands", json=body, timeout=60)
    return answer.status_code, time.perf_counter() - began


def export_params(start: datetime, seconds: int) -> dict[str, str]:
    """Every cell voltage of the range in the long layout: many lines per sample."""
    end = start + timedelta(seconds=seconds)
    return {
        "format": "csv",
        "layout": "long",
        "fields": "cell_v",
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
