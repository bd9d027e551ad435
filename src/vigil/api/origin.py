"""Where a request comes from: the TCP peer, and the client a trusted reverse proxy names.

X-Forwarded-For is whatever the sender wrote, so it is believed only from the proxies the
configuration lists (`api.trusted_proxies`, none by default), and only as far back as the
chain stays inside them: each proxy appends the address it saw, so the right-most address that
is not a trusted proxy is the client. Anything that is not an IP address ends the chain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Origin:
    peer: str  # the address that opened the connection (or "-")
    forwarded: str | None = None  # the client named by trusted proxies, if any

    @property
    def client(self) -> str:
        """The address to hold to account: throttles count it."""
        return self.forwarded or self.peer


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]
) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def origin_of(request: Request, proxies: Sequence[Network]) -> Origin:
    peer_text = request.client.host if request.client else "-"
    peer = _address(peer_text)
    if peer is None or not _trusted(peer, proxies):
        return Origin(peer_text)
    hops = ",".join(request.headers.getlist("x-forwarded-for")).split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        if not _trusted(address, proxies):
            return Origin(peer_text, str(address))
    return Origin(peer_text)
