"""The address guard: no connection to a private, loopback or otherwise non-public address.

``GuardedBackend`` is an ``httpcore.AsyncNetworkBackend`` (httpcore's documented network
seam) wrapped around the backend that really connects.  Every connection it opens starts
with its own resolution of the host name (no DNS cache: each new connection is checked
again, so a DNS answer that changes between two connections — rebinding — is caught), every
answer is checked, and only a checked IP is handed to the inner backend.  As connections
are opened per hop, every redirect hop is checked too.

Names are resolved by ``resolver`` (the system's ``getaddrinfo`` by default), which also
turns legacy numeric spellings (``127.1``, ``0x7f.1``, ``2130706433``) into the address
they mean.  IPv6 addresses that wrap an IPv4 one (mapped, 6to4, NAT64) are judged by it.
``allow_private`` (the ``allow_private_networks`` setting) lifts the check.

Errors: ``scraper.errors.AddressBlocked`` for a refused address; httpcore's ConnectError /
ConnectTimeout for names that do not resolve.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore

from scraper.errors import AddressBlocked

__all__ = [
    "GuardedBackend",
    "IPAddress",
    "Resolver",
    "is_public_address",
    "literal_ip",
    "system_resolver",
]

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public_address(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses, also inside IPv6 wrappers."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return ip.is_global and not ip.is_multicast


def literal_ip(host: str) -> IPAddress | None:
    """The address a host written as a standard IP literal stands for, else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system resolver, in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, refuses non-public answers, connects ``inner`` to a checked IP only."""

    def __init__(
        self,
        inner: httpcore.AsyncNetworkBackend,
        resolver: Resolver | None = None,
        *,
        allow_private: bool = False,
    ) -> None:
        self._inner = inner
        self._resolver = resolver or system_resolver
        self._allow_private = allow_private

    async def addresses(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        """The checked addresses of ``host``: AddressBlocked if any answer is not public."""
        literal = literal_ip(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                async with asyncio.timeout(timeout):
                    answers = await self._resolver(host, port)
                addresses = [ipaddress.ip_address(a) for a in answers]
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
            except (OSError, ValueError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            if not addresses:
                raise httpcore.ConnectError(f"{host} has no address")
        if not self._allow_private:
            for ip in addresses:
                if not is_public_address(ip):
                    raise AddressBlocked(host, f"{host} resolves to non-public address {ip}")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception | None = None
        for ip in await self.addresses(host, port, timeout):
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # the next checked address, as a browser would
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not used by qkfeed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
