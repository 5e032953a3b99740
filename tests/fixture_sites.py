"""Local copies of the news sites, served over real HTTP, for tests and for debugging profiles.

The live sites cannot be reached from our machines, so ``tests/fixtures/sites/<id>/``
holds faithful copies of their pages (built from ``shared/sites.md``) and this module
serves each site on its own ``127.0.0.1`` port::

    with FixtureSites(["qk3", "qdnd"]) as sites:
        sites.url("qk3", "/chinh-tri-xa-hoi")      # http://127.0.0.1:PORT/chinh-tri-xa-hoi
        text = sites.config_text("sqlite:///" + str(tmp_path / "t.db"))
        sites.add_article("qk3", "/chinh-tri-xa-hoi/tin-moi-9999", html, "/chinh-tri-xa-hoi")
        sites.edit_article("qk3", path, "cũ", "mới")
        sites.hits("qk3")                           # [("GET", "/robots.txt", 200), ...]

API (all paths are root-relative, with the query string when there is one):

    FixtureSites(sites=None, *, first_port=0)   context manager; one server per site
    .base_url(site) / .url(site, path)          http://127.0.0.1:PORT[/path]
    .hits(site) -> [(method, path_with_query, status)]   request log; .clear_hits(site=None)
    .add_article(site, path, html, listing_path, *, title=None)   new route + link on top
                                                of the listing (at its listing_insert marker),
                                                and an item on top of each feed (feed_insert)
    .edit_article(site, path, old, new) -> n    text replacement in the served file
    .remove_route(site, path)                   the path answers 404 from now on
    .restore_route(site, path)                  undo remove_route / redirect_route / fault
    .redirect_route(site, path, target)         the path answers 301 to target from now on
    .fault(site, path, status=None, delay=0)    the path answers ``status`` (410, 503 ...)
                                                and/or only after ``delay`` seconds
    .set_latency(seconds)                       delay every answer of every site
    .config_text(storage_url, **fetch)          complete TOML config aimed at the servers
    .manifest(site) / .expected(site)           manifest copy; golden files with real URLs

Run ``python tests/fixture_sites.py [SITE ...] [--config out.toml]`` to serve the sites until
Ctrl-C and print their URLs (and optionally write a config pointing at them).

Fixture layout
--------------
``tests/fixtures/sites/<id>/``::

    site.json              the manifest (below)
    *.html, robots.txt …   the files, served as they are except that every ``{{BASE}}``
                           becomes the server's own ``http://127.0.0.1:PORT``
    404.html               the site's "page not found" page
    expected/<name>.json   golden extraction result of one article (below)

``tests/fixtures/sitegen/`` is the script the pages and golden files were generated
with (``python tests/fixtures/sitegen [SITE ...]`` rewrites them); edit the content there.

Manifest ``site.json``::

    {
      "id": "qk3",                        # = the source id in config.toml
      "origin": "https://quankhu3.vn",    # the real site (documentation only)
      "start_urls": ["/chinh-tri-xa-hoi"],          # paths of config.toml's start_urls
      "listing_pages": ["/chinh-tri-xa-hoi", "/chinh-tri-xa-hoi?page=1"],
      "articles": ["/chinh-tri-xa-hoi/bo-tham-muu-...-4048", ...],
      "routes": {"/chinh-tri-xa-hoi": "listing.html",       # exact path + query -> file
                 "/chinh-tri-xa-hoi?page=1": "listing-p2.html",
                 "/robots.txt": "robots.txt", ...},
      "redirects": {"/node/4048": "/chinh-tri-xa-hoi/...-4048"},   # optional, 301
      "not_found": "404.html",
      "stored_at": "2024-06-01T00:00:00Z",  # optional: Last-Modified of the untouched files
      "listing_insert": {"marker": "<!-- fixture:listing-top -->",
                         "item": "<li><a href=\\"{url}\\">{title}</a></li>"},
      "feeds": ["/rss/kinh-te.rss"],       # optional: the site's own feeds (config feed_urls)
      "feed_insert": {"marker": "<!-- fixture:feed-top -->",     # optional: add_article also
                      "item": "<item>…{url}…{title}…{date}</item>"},  # puts an item atop each feed
      "session_gate": {                    # optional (qdnd RSS): without the cookie, a
        "cookie": "ASP.NET_SessionId",     # 302 loop to the same URL; visiting a
        "set_by": ["/rss"],                # "set_by" path sets the cookie
        "paths": ["/rss/cate/"]
      }
    }

Routing is an exact match of path and query string (``?page=1`` and ``?page=01`` differ;
percent-encoding is normalized); anything else gets the site's 404 page with status 404.
The content type follows the file name (``.html``, ``.txt``, ``.rss``, ``.xml``, ``.json``).
Every 200 answer carries ``ETag`` (a hash of the bytes served, so an edit changes it) and
``Last-Modified`` (the file's time, which every edit moves forward by at least a second);
``If-None-Match`` (preferred) and ``If-Modified-Since`` get correct ``304`` answers.

Golden file ``expected/<name>.json`` (one per entry of ``articles``)::

    {
      "url": "/chinh-tri-xa-hoi/...-4048",        # root-relative; prefix base_url()
      "title": "…",                               # exact, NFC
      "published": "2024-01-05T10:37:00Z",        # UTC
      "authors": ["Anh Thư"],                     # people, title case, no rank/office/prefix
      "agencies": [],                             # e.g. ["TTXVN"]; never in authors
      "body_contains": ["…", …],                  # every body paragraph (lead and image
                                                  #   captions included), NFC substrings
      "body_not_contains": ["…", …],              # byline, promo, counters, clocks, boxes …
      "image": "{{BASE}}/sites/…/anh.jpg"         # lead image, absolute; {{BASE}} = base_url;
                                                  #   spaces percent-encoded; or null
    }

Use :func:`expected_articles` to load them with ``{{BASE}}`` filled in.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import html
import json
import math
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import tomllib
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

__all__ = ["FixtureSites", "SITES_DIR", "REPO_CONFIG", "all_site_ids", "expected_articles", "toml_dumps"]

TESTS_DIR = Path(__file__).resolve().parent
SITES_DIR = TESTS_DIR / "fixtures" / "sites"
REPO_CONFIG = TESTS_DIR.parent / "config.toml"
BASE_PLACEHOLDER = "{{BASE}}"
_TEXT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json",
}
_BINARY_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif"}
_FIXTURE_TIME = 1_717_200_000  # default Last-Modified of untouched files (2024-06-01T00:00:00Z)


def all_site_ids() -> list[str]:
    """Every site that has a manifest, sorted."""
    return sorted(p.parent.name for p in SITES_DIR.glob("*/site.json"))


def expected_articles(site_id: str, base_url: str | None = None) -> list[dict[str, Any]]:
    """The golden files of one site; with ``base_url``, ``{{BASE}}`` is replaced and ``url`` made absolute."""
    out = []
    for path in sorted((SITES_DIR / site_id / "expected").glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        if base_url is not None:
            data = json.loads(json.dumps(data).replace(BASE_PLACEHOLDER, base_url))
            data["url"] = base_url + data["url"]
        out.append(data)
    return out


def _norm_target(target: str) -> str:
    """Path + query of a request target, fragment dropped, percent-encoding normalized."""
    parts = urlsplit(target)
    path = parts.path or "/"
    path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~")
    return path + ("?" + parts.query if parts.query else "")


class _Site:
    """One served site: its manifest, files in the temp copy, request log and server."""

    def __init__(self, owner: FixtureSites, site_id: str, root: Path) -> None:
        self.owner = owner
        self.id = site_id
        self.root = root
        self.manifest: dict[str, Any] = json.loads((root / "site.json").read_text("utf-8"))
        self.routes: dict[str, str] = {_norm_target(k): v for k, v in self.manifest["routes"].items()}
        self.redirects: dict[str, str] = {
            _norm_target(k): v for k, v in self.manifest.get("redirects", {}).items()
        }
        self.gate: dict[str, Any] | None = self.manifest.get("session_gate")
        self.faults: dict[str, tuple[int | None, float]] = {}  # target -> (status, delay)
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.base = ""

    # -- files -------------------------------------------------------------
    def file_for(self, target: str) -> Path | None:
        name = self.routes.get(_norm_target(target))
        return self.root / name if name else None

    def body(self, path: Path) -> bytes:
        data = path.read_bytes()
        if path.suffix.lower() in _TEXT_TYPES:
            data = data.replace(BASE_PLACEHOLDER.encode(), self.base.encode())
        return data

    def write(self, path: Path, text: str) -> None:
        """Write a served file, moving its time forward by at least one second.

        Last-Modified has one-second resolution: without the bump, an edit made in
        the same second as the previous answer would be invisible to If-Modified-Since.
        """
        old = int(path.stat().st_mtime) if path.exists() else _FIXTURE_TIME
        path.write_text(text, "utf-8")
        new = max(int(time.time()), old + 1)
        os.utime(path, (new, new))

    # -- server --------------------------------------------------------------
    def start(self, port: int = 0) -> None:
        handler = type(f"Handler_{self.id}", (_Handler,), {"site": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        host, real_port = self.server.server_address[:2]
        self.base = f"http://{host}:{real_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"fixture-{self.id}", daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class _Handler(BaseHTTPRequestHandler):
    site: _Site  # set on the per-site subclass
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"  # what the ASP.NET sites answer; harmless for the others
    sys_version = ""
    timeout = 30

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        with self.site.lock:
            self.site.log.append((getattr(self, "command", "") or "", getattr(self, "path", ""), status))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        latency = self.site.owner.latency
        if latency > 0:
            time.sleep(latency)
        site = self.site
        target = _norm_target(self.path)
        path_only = target.split("?", 1)[0]
        extra: list[tuple[str, str]] = []
        if site.gate:
            name = site.gate["cookie"]
            if any(path_only.startswith(p) for p in site.gate.get("paths", ())):
                if f"{name}=" not in (self.headers.get("Cookie") or ""):
                    self._send(302, b"", "text/html; charset=utf-8", head,
                               [("Location", site.base + target)])
                    return
            if path_only in site.gate.get("set_by", ()):
                extra.append(("Set-Cookie", f"{name}={secrets.token_hex(12)}; path=/; HttpOnly; SameSite=Lax"))
        fault_status, fault_delay = site.faults.get(target, (None, 0.0))
        if fault_delay > 0:
            time.sleep(fault_delay)
        if fault_status is not None:
            page = f"<!DOCTYPE html><title>{fault_status}</title><h1>HTTP {fault_status}</h1>".encode()
            self._send(fault_status, page, "text/html; charset=utf-8", head, extra)
            return
        if target in site.redirects:
            self._send(301, b"", "text/html; charset=utf-8", head, [("Location", site.base + site.redirects[target])])
            return
        with site.lock:
            file = site.file_for(target)
            if file is None or not file.is_file():
                nf = site.manifest.get("not_found")
                body = site.body(site.root / nf) if nf else b"<!DOCTYPE html><title>404</title><h1>Not Found</h1>"
                self._send(404, body, "text/html; charset=utf-8", head, extra)
                return
            body = site.body(file)
            mtime = int(file.stat().st_mtime)
        ctype = _TEXT_TYPES.get(file.suffix.lower()) or _BINARY_TYPES.get(file.suffix.lower(), "application/octet-stream")
        etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
        headers = [("ETag", etag), ("Last-Modified", email.utils.formatdate(mtime, usegmt=True)),
                   ("Cache-Control", "public, max-age=0, must-revalidate"), *extra]
        if self._not_modified(etag, mtime):
            self._send(304, b"", None, head, headers)
            return
        self._send(200, body, ctype, head, headers)

    def _not_modified(self, etag: str, mtime: int) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                when = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
            return mtime <= when
        return False

    def _send(self, status: int, body: bytes, ctype: str | None, head: bool,
              headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status != 304:
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)


class FixtureSites:
    """Serve copies of the fixture sites, one threaded HTTP server per site (a context manager).

    ``sites``: ids to serve (default: all).  ``first_port``: 0 for free ports, or N to
    use N, N+1, … in the order of ``sites`` (for debugging with stable URLs).
    """

    def __init__(self, sites: list[str] | None = None, *, first_port: int = 0) -> None:
        known = all_site_ids()
        self.site_ids = list(sites) if sites else known
        unknown = [s for s in self.site_ids if s not in known]
        if unknown:
            raise ValueError(f"unknown fixture site(s) {unknown}; known: {known}")
        self.first_port = first_port
        self.latency = 0.0
        self._sites: dict[str, _Site] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> FixtureSites:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="qkfeed-sites-")
        try:
            for i, sid in enumerate(self.site_ids):
                dst = Path(self._tmp.name) / sid
                shutil.copytree(SITES_DIR / sid, dst)
                site = _Site(self, sid, dst)
                stamp = _FIXTURE_TIME
                if site.manifest.get("stored_at"):
                    iso = site.manifest["stored_at"].replace("Z", "+00:00")
                    stamp = int(datetime.fromisoformat(iso).timestamp())
                for f in dst.rglob("*"):
                    if f.is_file():
                        os.utime(f, (stamp, stamp))
                site.start(self.first_port + i if self.first_port else 0)
                self._sites[sid] = site
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for site in self._sites.values():
            site.stop()
        self._sites.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _site(self, site_id: str) -> _Site:
        try:
            return self._sites[site_id]
        except KeyError:
            raise KeyError(f"site {site_id!r} is not served (served: {sorted(self._sites)})") from None

    # -- addresses -----------------------------------------------------------
    def base_url(self, site_id: str) -> str:
        """``http://127.0.0.1:PORT`` of the site (no trailing slash)."""
        return self._site(site_id).base

    def url(self, site_id: str, path: str) -> str:
        """Absolute URL of a root-relative path on the site."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self._site(site_id).base + path

    def manifest(self, site_id: str) -> dict[str, Any]:
        """The site's manifest (a copy), including articles added since start."""
        return json.loads(json.dumps(self._site(site_id).manifest))

    def expected(self, site_id: str) -> list[dict[str, Any]]:
        """Golden files of the site with ``{{BASE}}`` and ``url`` made absolute for this server."""
        return expected_articles(site_id, self.base_url(site_id))

    def hits(self, site_id: str) -> list[tuple[str, str, int]]:
        """Requests served so far: ``(method, path_with_query, status)`` in arrival order."""
        site = self._site(site_id)
        with site.lock:
            return list(site.log)

    def clear_hits(self, site_id: str | None = None) -> None:
        for sid in [site_id] if site_id else list(self._sites):
            site = self._site(sid)
            with site.lock:
                site.log.clear()

    def set_latency(self, seconds: float) -> None:
        """Delay every answer of every site by ``seconds`` (0 to stop)."""
        self.latency = max(0.0, float(seconds))

    # -- changing the sites --------------------------------------------------
    def add_article(self, site_id: str, path: str, html_text: str, listing_path: str,
                    *, title: str | None = None) -> None:
        """Serve ``html_text`` at ``path`` and link it at the top of the listing page ``listing_path``.

        The link text is ``title`` or the page's first ``<h1>`` (else its ``<title>``).
        """
        site = self._site(site_id)
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        insert = site.manifest.get("listing_insert")
        if not insert:
            raise ValueError(f"site {site_id} has no listing_insert in its manifest")
        if title is None:
            m = re.search(r"<h1[^>]*>(.*?)</h1>", html_text, re.S | re.I) or re.search(
                r"<title[^>]*>(.*?)</title>", html_text, re.S | re.I)
            title = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip() if m else path
        with site.lock:
            listing = site.file_for(listing_path)
            if listing is None:
                raise ValueError(f"{listing_path!r} is not a route of {site_id}")
            text = listing.read_text("utf-8")
            marker = insert["marker"]
            if marker not in text:
                raise ValueError(f"marker {marker!r} not found in {listing.name}")
            item = insert["item"].format(url=html.escape(path), title=html.escape(title))
            site.write(listing, text.replace(marker, marker + "\n" + item, 1))
            self._add_to_feeds(site, path, title)
            n = sum(1 for _ in site.root.glob("added-*.html")) + 1
            file = site.root / f"added-{n}.html"
            site.write(file, html_text)
            site.routes[_norm_target(path)] = file.name
            site.manifest["routes"][path] = file.name
            site.manifest["articles"].append(path)

    @staticmethod
    def _add_to_feeds(site: _Site, path: str, title: str) -> None:
        """Put the new article on top of every feed of the site (manifest ``feed_insert``)."""
        insert = site.manifest.get("feed_insert")
        if not insert:
            return
        when = email.utils.formatdate(time.time(), usegmt=True)
        item = insert["item"].format(url=html.escape(BASE_PLACEHOLDER + path), title=html.escape(title), date=when)
        for feed_path in site.manifest.get("feeds", []):
            feed = site.file_for(feed_path)
            if feed is None:
                continue
            text = feed.read_text("utf-8")
            if insert["marker"] in text:
                site.write(feed, text.replace(insert["marker"], insert["marker"] + "\n" + item, 1))

    def edit_article(self, site_id: str, path: str, old: str, new: str) -> int:
        """Replace ``old`` by ``new`` in the file served at ``path``; returns the number replaced."""
        site = self._site(site_id)
        with site.lock:
            file = site.file_for(path)
            if file is None:
                raise ValueError(f"{path!r} is not a route of {site_id}")
            text = file.read_text("utf-8")
            count = text.count(old)
            if not count:
                raise ValueError(f"{old!r} not found in {path}")
            site.write(file, text.replace(old, new))
            return count

    def remove_route(self, site_id: str, path: str) -> None:
        """Make ``path`` answer 404 from now on."""
        site = self._site(site_id)
        with site.lock:
            site.routes.pop(_norm_target(path), None)

    def restore_route(self, site_id: str, path: str) -> None:
        """Serve ``path`` as its manifest says again (after remove_route, redirect_route or fault)."""
        site = self._site(site_id)
        with site.lock:
            target = _norm_target(path)
            site.faults.pop(target, None)
            site.redirects.pop(target, None)
            name = site.manifest["routes"].get(path)
            if name is not None:
                site.routes[target] = name

    def redirect_route(self, site_id: str, path: str, target: str) -> None:
        """Make ``path`` answer 301 to ``target`` (root-relative) from now on."""
        site = self._site(site_id)
        with site.lock:
            site.redirects[_norm_target(path)] = target

    def fault(self, site_id: str, path: str, *, status: int | None = None, delay: float = 0.0) -> None:
        """Make ``path`` answer ``status`` (with a small error page) and/or wait ``delay`` seconds first."""
        site = self._site(site_id)
        with site.lock:
            site.faults[_norm_target(path)] = (status, float(delay))

    # -- configuration -------------------------------------------------------
    def config_text(self, storage_url: str, **fetch_overrides: Any) -> str:
        """A complete TOML config: the repo's ``config.toml`` pointed at these servers.

        Only served sources are kept, each with its start URLs, feed URLs and
        ``feed_session_url`` moved to the fixture server
        (every other key and profile as in the repo).  ``[fetch]`` gets
        ``allow_private_networks = true``, ``per_host_delay = 0``, ``retries = 1``,
        ``respect_robots = true``, then ``fetch_overrides``.
        """
        data = tomllib.loads(REPO_CONFIG.read_text("utf-8"))
        data["storage"] = {**data.get("storage", {}), "url": storage_url}
        fetch = dict(data.get("fetch", {}))
        fetch.update(allow_private_networks=True, per_host_delay=0.0, retries=1, respect_robots=True)
        fetch.update(fetch_overrides)
        data["fetch"] = fetch
        sources: dict[str, Any] = {}
        for sid, src in data.get("sources", {}).items():
            if sid not in self._sites:
                continue
            src = dict(src)
            src["start_urls"] = [self._rewrite(sid, u) for u in src.get("start_urls", [])]
            if "feed_urls" in src:
                src["feed_urls"] = [self._rewrite(sid, u) for u in src["feed_urls"]]
            if "feed_session_url" in src:
                src["feed_session_url"] = self._rewrite(sid, src["feed_session_url"])
            sources[sid] = src
        data["sources"] = sources
        return "# Generated by tests/fixture_sites.py from config.toml\n\n" + toml_dumps(data)

    def _rewrite(self, site_id: str, url: str) -> str:
        parts = urlsplit(url)
        return self.base_url(site_id) + (parts.path or "/") + ("?" + parts.query if parts.query else "")


# -- a small TOML writer (tomllib reads only) -------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _string(k)


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        r = repr(v)
        return r if any(c in r for c in ".eE") else r + ".0"
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def toml_dumps(data: dict[str, Any]) -> str:
    """TOML text for nested dicts of str/int/float/bool/lists (enough for config.toml)."""
    lines: list[str] = []

    def table(d: dict[str, Any], prefix: tuple[str, ...]) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in d.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_key(p) for p in prefix) + "]")
        for k, v in scalars.items():
            lines.append(f"{_key(k)} = {_value(v)}")
        for k, v in tables.items():
            table(v, (*prefix, k))

    table(data, ())
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the fixture copies of the news sites until Ctrl-C.")
    parser.add_argument("sites", nargs="*", help=f"site ids (default: all of {', '.join(all_site_ids())})")
    parser.add_argument("--port", type=int, default=0, help="first port (default: free ports)")
    parser.add_argument("--config", metavar="PATH", help="also write a config.toml pointing at the servers")
    parser.add_argument("--storage", default="sqlite:///data/fixtures.db", help="storage url for --config")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to delay every answer")
    args = parser.parse_args(argv)
    with FixtureSites(args.sites or None, first_port=args.port) as sites:
        sites.set_latency(args.latency)
        for sid in sites.site_ids:
            m = sites.manifest(sid)
            print(f"{sid:10} {sites.base_url(sid)}   (copy of {m.get('origin', '?')})")
            for p in m.get("start_urls", []):
                print(f"{'':10}   start   {sites.url(sid, p)}")
            for p in m.get("articles", []):
                print(f"{'':10}   article {sites.url(sid, p)}")
        if args.config:
            Path(args.config).write_text(sites.config_text(args.storage), "utf-8")
            print(f"config written to {args.config}")
        print("serving; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
