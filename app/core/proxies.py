"""Who the client is behind a reverse proxy: X-Forwarded-For is believed only from trusted ones.

Anyone can send X-Forwarded-For. Only when the connection comes from a configured proxy does the
header say something: the client is then the nearest address in it (walking from the right, the
end the proxies append to) that is not itself a trusted proxy. A client that sends the header
itself only adds addresses to the left of the one the proxy appended, which are never reached.
"""

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

Networks = Sequence[IPv4Network | IPv6Network]


def is_trusted(host: str, proxies: Networks) -> bool:
    """Whether `host` is an address inside one of the proxies' networks."""
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def forwarded_client(peer: str, forwarded_for: list[str], proxies: Networks) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy that says otherwise."""
    if not is_trusted(peer, proxies):
        return peer
    client = peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        if not _is_address(hop):
            break  # garbage from the far side: the last trusted hop is all we know
        client = hop
        if not is_trusted(hop, proxies):
            break
    return client


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


class TrustedProxies:
    """Pure ASGI middleware: the scope's client (and scheme) as the trusted proxies report them."""

    def __init__(self, app: ASGIApp, proxies: Networks) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite a request that came through a trusted proxy, then hand on."""
        client = scope.get("client")
        if scope["type"] == "http" and client and is_trusted(client[0], self.proxies):
            self._as_forwarded(scope)
        await self.app(scope, receive, send)

    def _as_forwarded(self, scope: Scope) -> None:
        headers = Headers(scope=scope)
        peer, port = scope["client"]
        forwarded = forwarded_client(peer, headers.getlist("x-forwarded-for"), self.proxies)
        scope["client"] = (forwarded, port)
        # Behind a TLS-terminating proxy, links the app builds (url_for) must say https.
        proto = headers.get("x-forwarded-proto", "").strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto
