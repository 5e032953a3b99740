"""The network layer under ``scraper.fetch.client.Fetcher``: aiohttp behind httpx's transport seam.

``GuardedTransport`` is an ``httpx.AsyncBaseTransport`` that performs each exchange on one
shared ``aiohttp.ClientSession`` (keep-alive, no redirects, no cookies of its own, no
decompression: the Fetcher inflates with its size cap) and hands the body back unread as an
``httpx.AsyncByteStream``.  aiohttp and asyncio errors become the httpx exceptions the
Fetcher retries and describes (ConnectError, ConnectTimeout, ReadTimeout, ReadError,
RemoteProtocolError).

Why aiohttp: httpcore + anyio cost ~0.8 ms of the event loop per request (pool bookkeeping,
stream wrappers), aiohttp ~0.2 ms; a backfill spent most of its event loop there.

The address guard lives in the connector: ``GuardedResolver`` resolves every name itself
(no DNS cache, so each new connection is checked again), refuses non-public answers with
``AddressBlocked`` and hands aiohttp only the checked addresses, which are all it connects
to.  aiohttp does not call resolvers for IP literals: the transport checks those itself
before a request (the Fetcher does too), and legacy numeric spellings (``127.1``,
``2130706433``), which aiohttp refuses as URLs, are resolved and checked first so that they
are still reported as AddressBlocked.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.helpers import is_ip_address
from yarl import URL

from scraper.config import FetchConfig
from scraper.errors import AddressBlocked
from scraper.logs import event, get_logger

log = get_logger("transport")

__all__ = [
    "GuardedConnector",
    "GuardedResolver",
    "GuardedTransport",
    "Resolver",
    "is_public_address",
    "system_resolver",
]

Resolver = Callable[[str, int], Awaitable[list[str]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx's default)
MAX_CONNECTIONS_PER_ORIGIN = 100  # as httpx's pool; the HostLimiter keeps far fewer in use
MAX_HEADER_SIZE = 16 * 1024  # a header line (h11, httpx's parser, allowed 16 KiB of headers)


# --- address guard -------------------------------------------------------------------


def is_public_address(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses, also inside IPv6 wrappers."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return ip.is_global and not ip.is_multicast


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system resolver, in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _ResolveFailed(Exception):
    """A name that could not be resolved (not an OSError, so aiohttp passes it through)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses names with a non-public answer (AddressBlocked)
    unless ``allow_private``; the connector connects only to the addresses it returns.
    """

    def __init__(
        self,
        resolver: Resolver | None = None,
        *,
        allow_private: bool = False,
        timeout: float | None = None,
    ) -> None:
        self._resolver = resolver or system_resolver
        self._allow_private = allow_private
        self._timeout = timeout

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses of ``host``; AddressBlocked or _ResolveFailed."""
        literal = literal_ip(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                async with asyncio.timeout(self._timeout):
                    answers = await self._resolver(host, port)
                addresses = [ipaddress.ip_address(a) for a in answers]
            except TimeoutError:
                raise _ResolveFailed(f"resolving {host} timed out", timeout=True) from None
            except (OSError, ValueError) as exc:
                raise _ResolveFailed(f"cannot resolve {host}: {exc}") from exc
            if not addresses:
                raise _ResolveFailed(f"{host} has no address")
        if not self._allow_private:
            for ip in addresses:
                if not is_public_address(ip):
                    raise AddressBlocked(host, f"{host} resolves to non-public address {ip}")
        return addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": str(ip),
                "port": port,
                "family": socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for ip in await self.addresses(host, port)
        ]

    async def close(self) -> None:
        pass


class GuardedConnector(aiohttp.TCPConnector):
    """aiohttp's TCP connector resolving through a GuardedResolver, every time (no DNS
    cache), trying the checked addresses one after another."""

    def __init__(self, resolver: GuardedResolver, ssl_context: ssl.SSLContext) -> None:
        super().__init__(
            resolver=resolver,
            use_dns_cache=False,
            ssl=ssl_context,
            limit=0,  # no limit over all hosts (the pipeline's own limits apply)
            limit_per_host=MAX_CONNECTIONS_PER_ORIGIN,
            keepalive_timeout=KEEPALIVE_EXPIRY,
            happy_eyeballs_delay=None,
        )
        if getattr(self._factory, "func", None) is ResponseHandler:
            self._factory = functools.partial(_ResponseHandler, loop=self._loop)
        elif not _warned_factory:
            # A newer aiohttp: fetching still works; a broken chunked body then ends at the
            # deadline instead of at once (tests/test_http.py fails loudly for developers).
            _warn_factory()


_warned_factory = False


def _warn_factory() -> None:
    global _warned_factory
    _warned_factory = True
    event(log, "aiohttp_internals_changed", logging.WARNING,
          detail="TCPConnector._factory is not ResponseHandler: broken chunked bodies end at the deadline")


class _ResponseHandler(ResponseHandler):
    """aiohttp's protocol, which also fails a body being read when the response breaks.

    aiohttp (3.14) closes the connection on a parse error in the body (a bad chunk size)
    but only fails the response's header queue: a reader of the body waits on, with its
    read timeout dropped, until the deadline.  Here the body fails too, as on a truncated one.
    """

    def set_exception(self, exc: BaseException, *cause: BaseException) -> None:
        super().set_exception(exc, *cause)
        payload = getattr(self, "_payload", None)
        if payload is not None and not payload.is_eof() and payload.exception() is None:
            payload.set_exception(
                aiohttp.ClientPayloadError(f"Response payload is not completed: {exc}"), exc
            )


# --- the transport --------------------------------------------------------------------


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx requests sent by one aiohttp session whose connector is address-guarded.

    ``connector_class`` is a seam for tests (a GuardedConnector that connects the checked
    public test addresses to a local server).  The session is made on first use, in the
    running event loop, and closed by ``aclose`` (the Fetcher's ``async with``).
    """

    def __init__(
        self,
        cfg: FetchConfig,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connector_class: type[GuardedConnector] = GuardedConnector,
    ) -> None:
        self._ssl = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._guard = GuardedResolver(
            resolver, allow_private=cfg.allow_private_networks, timeout=cfg.timeout
        )
        self._connector_class = connector_class
        self._session: aiohttp.ClientSession | None = None

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=self._connector_class(self._guard, self._ssl),
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx.AsyncClient keeps the cookies
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=MAX_HEADER_SIZE,
            max_field_size=MAX_HEADER_SIZE,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._new_session()
        host = request.url.host
        if is_ip_address(host):
            # aiohttp does not resolve IP literals: they are checked here (as by the Fetcher),
            # and legacy numeric spellings (127.1), which aiohttp then refuses as URLs, are
            # resolved and checked as names
            await _mapped(self._guard.addresses(host, request.url.port or 0))
        timeouts = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        resp = await _mapped(
            session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,
                timeout=timeout,
            )
        )
        return httpx.Response(
            resp.status,
            headers=resp.raw_headers,
            stream=_Body(resp),
            request=request,
            extensions={
                "http_version": f"HTTP/{resp.version.major}.{resp.version.minor}".encode()
                if resp.version
                else b"HTTP/1.1",
                "reason_phrase": (resp.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body, streamed as it arrives; closing an unfinished one closes
    its connection rather than returning it to the pool."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._resp.content
        while True:
            chunk = await _mapped(content.readany())
            if not chunk:
                return
            yield chunk

    async def aclose(self) -> None:
        resp = self._resp
        if resp.content.at_eof():
            resp.release()
        else:
            resp.close()


async def _mapped(awaitable: Awaitable[Any]) -> Any:
    """``await awaitable`` with aiohttp's and asyncio's errors as httpx's."""
    try:
        return await awaitable
    except AddressBlocked:
        raise
    except _ResolveFailed as exc:
        if exc.timeout:
            raise httpx.ConnectTimeout(str(exc)) from exc
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
    except aiohttp.ServerTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(f"{exc.host}:{exc.port}: {exc.os_error}") from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.") from exc
    except aiohttp.ClientPayloadError as exc:
        if isinstance(exc.__cause__, TimeoutError):  # sock_read, while reading the body
            raise httpx.ReadTimeout(str(exc)) from exc
        if isinstance(exc.__cause__, OSError) or "ConnectionResetError" in str(exc):
            raise httpx.ReadError(str(exc)) from exc
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.InvalidURL(str(exc)) from exc
    except aiohttp.ClientResponseError as exc:  # a malformed status line or headers
        raise httpx.RemoteProtocolError(exc.message or str(exc)) from exc
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out") from exc
    except (aiohttp.ClientOSError, aiohttp.ClientConnectionResetError, OSError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
    except aiohttp.ClientError as exc:
        raise httpx.TransportError(str(exc) or type(exc).__name__) from exc
