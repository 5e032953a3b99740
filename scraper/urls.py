"""URL canonicalization: the article key.

Two URLs name the same article when they differ only by a leading ``www.``, a
default port, a fragment, tracking parameters or query order.  The canonical form
(the article's key) keeps the scheme it was given: a site that serves only
``http://`` keeps ``http://`` (it changes when the site redirects, because the key
is taken from the page's final URL).  Where two spellings of one link on a page must
count once (listing links, a backfill's walk), ``url_identity`` ignores the scheme
too, and ``scheme_twin`` lets a store lookup find an article kept under the other
scheme.  Percent-encoding and query ordering are handled by w3lib (Scrapy's URL
library) rather than by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

# Query parameters that only track the reader and never select content.
TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|zarsrc|zbclid|_gl|_ga|"
    r"mc_cid|mc_eid|igshid|ref_src|cmpid|itm_\w+|_hsenc|_hsmi)$",
    re.I,
)


def canonical_url(url: str) -> str:
    """The article key: the URL's scheme, no www., no default port, no fragment, no tracking,
    sorted query.

    ``url`` is an http(s) URL as ``absolute_url`` returns them; one that cannot be
    parsed (a broken IPv6 host, a port that is not a number) raises ValueError.
    """
    url = canonicalize_url(safe_url_string(url.strip()), keep_fragments=False)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = "&".join(
        kv for kv in parts.query.split("&") if kv and not TRACKING_PARAMS.match(kv.split("=", 1)[0])
    )
    path = parts.path or "/"
    scheme = "http" if parts.scheme.lower() == "http" else "https"
    return urlunsplit((scheme, netloc, path, query, ""))


def url_identity(url: str) -> str:
    """``canonical_url`` regardless of the scheme: http and https links to one page are one."""
    return scheme_twin(key) if (key := canonical_url(url)).startswith("http://") else key


def scheme_twin(key: str) -> str:
    """A canonical key with the other scheme (http <-> https)."""
    if key.startswith("http://"):
        return "https://" + key[len("http://"):]
    return "http://" + key[len("https://"):] if key.startswith("https://") else key


def absolute_url(base: str, href: str | None) -> str | None:
    """``href`` resolved against ``base`` and made safe (spaces encoded).

    None for links that are not web pages (``javascript:``, ``mailto:``, ``#top`` …) and
    for URLs that cannot be parsed (a broken IPv6 host, a port out of range): one bad
    link on a page must not take the page down with it.
    """
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        safe = safe_url_string(urljoin(base, href))
        parts = urlsplit(safe)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0..65535
    except (ValueError, UnicodeError):
        return None
    return safe


def same_site(a: str, b: str) -> bool:
    """True when both URLs are on the same host, ignoring ``www.`` and the scheme."""

    def host(u: str) -> str:
        h = (urlsplit(u).netloc or "").lower()
        return h[4:] if h.startswith("www.") else h

    try:
        return host(a) == host(b)
    except ValueError:  # a broken IPv6 host
        return False


def host_of(url: str) -> str:
    """The lower-case host name of ``url``; "" when there is none or it cannot be parsed."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def on_hosts(url: str, hosts: frozenset[str]) -> bool:
    """True when ``url``'s host is one of ``hosts`` or a subdomain of one (``www.`` ignored).

    ``hosts`` are bare host names as ``site_hosts`` returns them; ports do not count,
    so a redirect from http to https (or to another port) stays on the host.
    """
    host = host_of(url).removeprefix("www.")
    return bool(host) and any(host == h or host.endswith("." + h) for h in hosts)


def site_hosts(urls: Iterable[str]) -> frozenset[str]:
    """The bare host names (no ``www.``, no port) of ``urls``, for ``on_hosts``."""
    return frozenset(h for h in (host_of(u).removeprefix("www.") for u in urls) if h)
