"""Which requests the server answers at all: the ``Host`` allowlist and the head size cap.

``HostGuard.allows(host_header)``: a DNS-rebinding page makes a browser send
``Host: attacker.example`` to 127.0.0.1, so without a check it could read
``/metrics`` and ``/healthz``.  Only the host names in ``[server]
allowed_hosts`` are answered (the port is ignored, names compare
case-insensitively, ``*`` answers any); others get ``421 Misdirected
Request``.  Default (``default_allowed_hosts``): the host of ``base_url``, the
bind address and ``localhost``, plus the loopback addresses when bound to a
wildcard address.

Head size: the HTTP server (granian, on hyper) refuses heads past its own
buffer with 431; ``head_size`` measures what reached the app, and
``feeds.fastpath.FeedFront`` answers 431 with ``connection: close`` above
``[server] max_header_bytes``.  Hand-written: no maintained ASGI middleware
does either with these defaults (Starlette's ``TrustedHostMiddleware`` answers
400 and compares the whole value, port included).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = [
    "ANY_HOST",
    "HostGuard",
    "default_allowed_hosts",
    "host_name",
    "url_host",
]

ANY_HOST = "*"
LOCAL_NAMES = ("localhost",)
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


def url_host(host: str) -> str:
    """``host`` as it goes into a URL: IPv6 literals in brackets (``[::1]``)."""
    host = host.strip()
    if host.startswith("["):
        return host
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


def host_name(value: str) -> str:
    """The host name of a ``Host`` header value: no port, no brackets, lower case."""
    value = value.strip().lower()
    if value.startswith("["):  # [v6]:port
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:  # name:port (more colons: a bare v6 literal)
        value = value.partition(":")[0]
    return value.rstrip(".")


def default_allowed_hosts(base_url: str | None, bind_host: str) -> tuple[str, ...]:
    """The host of ``base_url``, the bind address, ``localhost`` (and loopback on a wildcard)."""
    hosts: list[str] = list(LOCAL_NAMES)
    if base_url:
        name = urlsplit(base_url).hostname
        if name:
            hosts.append(name)
    bind = host_name(bind_host)
    if bind in WILDCARD_ADDRESSES:
        hosts.extend(LOOPBACK_ADDRESSES)
    else:
        hosts.append(bind)
    return tuple(dict.fromkeys(hosts))


class HostGuard:
    """Whether a request's ``Host`` is one this server answers."""

    def __init__(self, allowed: Iterable[str]) -> None:
        names = {host_name(h) for h in allowed}
        self.any = ANY_HOST in names
        self.allowed = frozenset(names - {ANY_HOST})

    def allows(self, host: bytes | None) -> bool:
        """``host`` is the raw header value (None: no Host header, as HTTP/1.0 allows)."""
        if self.any or host is None:
            return True
        try:
            text = host.decode("ascii")
        except UnicodeDecodeError:
            return False
        return host_name(text) in self.allowed
