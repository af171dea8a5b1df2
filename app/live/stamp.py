"""Stamp each request with the wall-clock time it arrived, before anything reads the database.

A page's event stream asks for the changes since that stamp (see app.live.hub), so the stamp
must come before the page's own reads: a change they missed was then heard after it.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from app.live.hub import now_ms


class ArrivalStamp:
    """Pure ASGI middleware: `request.state.received_ms` on every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stamp, then hand on."""
        if scope["type"] == "http":
            scope.setdefault("state", {})["received_ms"] = now_ms()
        await self.app(scope, receive, send)
