"""The client's address, as far as it can be trusted.

X-Forwarded-For is written by whoever sent the request: only the entries appended by our own
proxies (CANTEEN_TRUSTED_PROXIES, addresses or CIDR networks) are believed. Walking the header
from the right, the first address that is not one of our proxies is the client; with no trusted
proxy configured the header is ignored and the socket's peer address is used.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(settings.CANTEEN_TRUSTED_PROXIES))


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: Any) -> str:
    """The client's IP address as a string ("" if the peer address itself is unusable)."""
    remote = _parse(request.META.get("REMOTE_ADDR", "") or "")
    if remote is None:
        return ""
    networks = trusted_networks()
    if not networks or not _trusted(remote, networks):
        return str(remote)
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # A garbled entry: everything left of it was written by the client. The last proxy
            # that appended a good entry is as far as the chain can be followed.
            break
        if not _trusted(address, networks):
            return str(address)
        remote = address
    return str(remote)
