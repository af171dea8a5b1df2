"""Real receivers on loopback: an SMTP server (aiosmtpd) and an HTTP webhook receiver."""

import asyncio
import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.server import free_port


@dataclass
class Mailbox:
    """What the SMTP server accepted; `hold` makes it keep the next DATA unanswered."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    hold: bool = False
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """Accept a message, or (holding) wait for release and refuse it."""
        if self.hold:
            self.holding.set()
            await asyncio.to_thread(self.release.wait)  # the test releases it, or teardown
            return "451 held by the test"
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def snapshot(self) -> list[tuple[list[str], EmailMessage]]:
        """The messages so far."""
        with self.lock:
            return list(self.messages)


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on a free loopback port, and its mailbox."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        mailbox.release.set()
        controller.stop()


@dataclass
class Hooks:
    """Requests the webhook receiver got, and the statuses it answers with, in turn."""

    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        """Record a request; the next queued status, 200 once none is left."""
        with self.lock:
            self.requests.append((headers, body))
            return self.statuses.pop(0) if self.statuses else 200

    def snapshot(self) -> list[tuple[dict[str, str], bytes]]:
        """The requests so far."""
        with self.lock:
            return list(self.requests)


def _handler(hooks: Hooks) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = hooks.answer(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the requests, not a log."""

    return Receiver


@contextmanager
def webhook_receiver() -> Iterator[tuple[Hooks, str]]:
    """A real HTTP server on loopback recording POSTs; yields its hooks and URL."""
    hooks = Hooks()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler(hooks))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hooks, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
