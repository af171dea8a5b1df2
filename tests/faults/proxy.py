"""A fault-injecting TCP proxy between the edge and the backend (in the spirit of toxiproxy).

It passes bytes both ways, except the answers to requests whose first line starts with a
chosen prefix: those requests still reach the backend, which acts and answers, but the answers
wait in the proxy. That is the moment an edge can die with a batch stored, or a command's
result recorded, and the backend's confirmation not yet received.
"""

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress

CHUNK = 64 * 1024


class FaultProxy:
    """Listens on a loopback port and forwards every connection to the backend's port."""

    def __init__(self, backend_port: int) -> None:
        self.backend_port = backend_port
        self.port = 0
        self.hold_prefixes: tuple[bytes, ...] = ()
        self.held: Counter[bytes] = Counter()  # answers held back, by request prefix
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.release = asyncio.Event()

    @property
    def url(self) -> str:
        """The base URL the edge should use."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Open the listening socket and serve in a background thread."""
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)

    async def _listen(self) -> int:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def hold_answers_to(self, *prefixes: bytes) -> None:
        """Keep back the answers to requests starting with any prefix (e.g. b"POST /api")."""
        self.loop.call_soon_threadsafe(self._hold, prefixes)

    def release_answers(self) -> None:
        """Let every answer through again, held ones first."""
        self.loop.call_soon_threadsafe(self._hold, ())

    def _hold(self, prefixes: tuple[bytes, ...]) -> None:
        self.hold_prefixes = prefixes
        if prefixes:
            self.release.clear()
        else:
            self.release.set()

    def stop(self) -> None:
        """Close everything and end the thread."""
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    async def _close(self) -> None:
        self.server.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    async def _connection(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        """Pipe one edge connection to a new backend connection, both ways."""
        try:
            backend_r, backend_w = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            client_w.close()
            return
        pending: list[bytes] = []  # prefixes of requests sent, whose answer is still to come
        upstream = asyncio.create_task(self._requests(client_r, backend_w, pending))
        downstream = asyncio.create_task(self._answers(backend_r, client_w, pending))
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for writer in (client_w, backend_w):
            with suppress(Exception):
                writer.close()

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pending: list[bytes]
    ) -> None:
        with suppress(ConnectionError):
            while data := await reader.read(CHUNK):
                # httpx writes a request's head in one piece: a chunk that starts with a
                # method is a new request.
                matched = next((p for p in self.hold_prefixes if data.startswith(p)), b"")
                if data[:8].split(b" ")[0] in {b"GET", b"POST", b"PUT", b"DELETE", b"PATCH"}:
                    pending.append(matched)
                writer.write(data)
                await writer.drain()

    async def _answers(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pending: list[bytes]
    ) -> None:
        with suppress(ConnectionError):
            while data := await reader.read(CHUNK):
                held = pending.pop(0) if pending else b""
                if held and self.hold_prefixes:
                    self.held[held] += 1
                    await self.release.wait()
                writer.write(data)
                await writer.drain()


@contextmanager
def fault_proxy(backend_port: int) -> Iterator[FaultProxy]:
    """A running proxy in front of a backend port."""
    proxy = FaultProxy(backend_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
