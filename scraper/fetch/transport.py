"""The network layer under ``scraper.fetch.client.Fetcher``: httpcore behind httpx's seam.

``GuardedTransport`` is an ``httpx.AsyncBaseTransport`` (httpx's documented transport API)
that sends each request through an ``httpcore.AsyncConnectionPool`` — one pool per origin
(scheme, host, port) — whose ``network_backend`` is the address guard
(``scraper.fetch.guard.GuardedBackend``) around plain asyncio streams
(``scraper.fetch.network.AsyncioBackend``).  It maps ``httpx.Request`` to
``httpcore.Request``, the response back (its body handed over unread, as an
``httpx.AsyncByteStream``), and httpcore's exceptions to httpx's (EXCEPTIONS; httpx's own
transport does the same mapping internally).  No redirects, cookies or decompression here:
the Fetcher does those, with its limits.

Why one pool per origin: httpcore's pool looks at every connection it holds whenever a
request comes or goes; with the keep-alive connections of ten sites in one pool that was
~0.5 ms of the event loop per request.  Per origin, only that site's few connections are
looked at.  How many connections a host gets is the HostLimiter's business.

Protocol faults are h11's (httpcore's parser), as RemoteProtocolError: a bad status line or
chunk size at once, a response head over 100 KiB, a body cut short of its length.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpcore
import httpx

from scraper.config import FetchConfig
from scraper.fetch.guard import GuardedBackend, Resolver
from scraper.fetch.network import AsyncioBackend

__all__ = ["EXCEPTIONS", "GuardedTransport", "KEEPALIVE_EXPIRY", "MAX_CONNECTIONS_PER_ORIGIN"]

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx's default)
MAX_CONNECTIONS_PER_ORIGIN = 100  # as httpx's pool; the HostLimiter keeps far fewer in use

# httpcore's exception -> httpx's; looked up along the raised class's MRO (most specific first)
EXCEPTIONS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
}

Origin = tuple[bytes, bytes, int | None]


def _as_httpx(exc: Exception, request: httpx.Request) -> Exception:
    """The httpx exception for an httpcore one (``exc`` itself if it is not httpcore's)."""
    for cls in type(exc).__mro__:
        mapped = EXCEPTIONS.get(cls)
        if mapped is not None:
            return mapped(str(exc) or type(exc).__name__, request=request)
    return exc


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx requests over address-guarded, per-origin httpcore connection pools.

    ``network_backend`` is what opens TCP connections to the checked addresses
    (default: AsyncioBackend); tests pass one that sends public test addresses to local
    servers.  ``resolver`` resolves names for the guard (default: the system's).
    """

    def __init__(
        self,
        cfg: FetchConfig,
        *,
        resolver: Resolver | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._ssl = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._backend = GuardedBackend(
            network_backend or AsyncioBackend(),
            resolver,
            allow_private=cfg.allow_private_networks,
        )
        self._pools: dict[Origin, httpcore.AsyncConnectionPool] = {}

    def _pool(self, origin: Origin) -> httpcore.AsyncConnectionPool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl,
                max_connections=MAX_CONNECTIONS_PER_ORIGIN,
                max_keepalive_connections=MAX_CONNECTIONS_PER_ORIGIN,
                keepalive_expiry=KEEPALIVE_EXPIRY,
                http1=True,
                http2=False,
                network_backend=self._backend,
            )
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        pool = self._pool((url.raw_scheme, url.raw_host, url.port))
        try:
            response = await pool.handle_async_request(core_request)
        except Exception as exc:
            mapped = _as_httpx(exc, request)
            if mapped is exc:
                raise
            raise mapped from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()


class _Body(httpx.AsyncByteStream):
    """An httpcore response body as httpx's stream; closing it early closes its connection
    (httpcore does not return a half-read connection to the pool)."""

    def __init__(self, response: httpcore.Response, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._response.aiter_stream():
                yield part
        except Exception as exc:
            mapped = _as_httpx(exc, self._request)
            if mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        await self._response.aclose()
