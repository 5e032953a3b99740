"""The settings: frozen pydantic models of config.toml, and their defaults.

The file is read once at start-up (``scraper.config_load``: ``load_config``,
``config_from_dict``) and the resulting ``Config`` is passed explicitly;
nothing reads settings from globals.  Validation is strict (strict types,
unknown keys forbidden); ``config_load`` turns every mistake into one
``ConfigError`` line naming the file, the dotted key and the problem.

Defaults live here as named constants, in one place.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from scraper.errors import ConfigError

DEFAULT_CONFIG_PATH = "config.toml"
DEFAULT_STORAGE_URL = "sqlite:///data/qkfeed.db"
DEFAULT_POOL_SIZE = 4  # the same as storage.postgres.DEFAULT_POOL_SIZE
DEFAULT_USER_AGENT = "qkfeed/0.1 (+https://github.com/qkfeed/qkfeed; news feed aggregator)"
DEFAULT_TIMEOUT = 15.0  # seconds for connect / read of one chunk
DEFAULT_DEADLINE = 60.0  # seconds for a whole request, body included
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_PER_HOST_CONCURRENCY = 2
DEFAULT_PER_HOST_DELAY = 1.0  # seconds between request starts to one host
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_MAX = 60.0
DEFAULT_INTERVAL = 1800  # seconds between two runs of one source
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_MAX_ARTICLES_PER_RUN = 50
DEFAULT_EXTRACT_WORKERS = 0  # processes extracting pages during a backfill (0: the pipeline's own)
MAX_EXTRACT_WORKERS = 16
DEFAULT_FEED_ENTRIES = 50
# Revisits (issue 12): durations after an article is first stored; [] turns them off
DEFAULT_REVISIT = ("1h", "6h", "1d", "3d", "7d")
DEFAULT_MAX_REVISITS_PER_RUN = 20  # per source and run: new articles come first, revisits never starve them
DEFAULT_REMOVAL_CONFIRM_AFTER = "6h"  # two revisits with removal evidence at least this far apart

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: int | float | str) -> float:
    """Seconds from ``1800``, ``"30m"``, ``"2h"``, ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds or a duration like '30m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (use seconds or e.g. '30m', '2h')")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    return seconds


def parse_revisit(value: Any) -> Any:
    """A revisit schedule: a list of durations after first stored, increasing (``[]``: off)."""
    if not isinstance(value, list | tuple):
        return value  # pydantic names the type error
    steps = tuple(parse_duration(v) for v in value)
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise ValueError("durations must increase, e.g. ['1h', '6h', '1d']")
    return steps


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StorageConfig(_Frozen):
    url: str = DEFAULT_STORAGE_URL
    pool_size: int = Field(DEFAULT_POOL_SIZE, ge=1, le=100)  # PostgreSQL connections per process

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        # the same rule storage.open_store applies (a URL it refuses is a config error there too)
        if v.lower().startswith("sqlite:"):
            if not v.startswith("sqlite:///") or v == "sqlite:///":
                raise ValueError("a SQLite storage URL is sqlite:///relative/path.db, "
                                 "sqlite:////absolute/path.db or sqlite:///:memory:")
        elif not re.match(r"^(postgres|postgresql)(\+\w+)?://", v, re.I):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return v


class FetchConfig(_Frozen):
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0)
    deadline: float = Field(DEFAULT_DEADLINE, gt=0)
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0)
    per_host_concurrency: int = Field(DEFAULT_PER_HOST_CONCURRENCY, ge=1)
    per_host_delay: float = Field(DEFAULT_PER_HOST_DELAY, ge=0)
    retries: int = Field(DEFAULT_RETRIES, ge=0)
    backoff_max: float = Field(DEFAULT_BACKOFF_MAX, ge=0)
    respect_robots: bool = True
    allow_private_networks: bool = False
    max_articles_per_run: int = Field(DEFAULT_MAX_ARTICLES_PER_RUN, ge=1)
    extract_workers: int = Field(DEFAULT_EXTRACT_WORKERS, ge=0, le=MAX_EXTRACT_WORKERS)
    revisit: tuple[float, ...] = tuple(parse_duration(d) for d in DEFAULT_REVISIT)
    max_revisits_per_run: int = Field(DEFAULT_MAX_REVISITS_PER_RUN, ge=0)
    removal_confirm_after: float = parse_duration(DEFAULT_REMOVAL_CONFIRM_AFTER)

    @field_validator("timeout", "deadline", "per_host_delay", "backoff_max", mode="before")
    @classmethod
    def _int_ok(cls, v: Any) -> Any:
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("revisit", mode="before")
    @classmethod
    def _revisit(cls, v: Any) -> Any:
        return parse_revisit(v)

    @field_validator("removal_confirm_after", mode="before")
    @classmethod
    def _confirm_after(cls, v: Any) -> Any:
        return parse_duration(v)


class ServerConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    base_url: str | None = None  # public URL of the server, for self links
    # bounded requests (feeds/guard.py, feeds/server.py)
    header_timeout: float = Field(10.0, gt=0)  # seconds for a request head; also the idle keep-alive
    max_header_bytes: int = Field(64 * 1024, ge=1024)  # a bigger head gets 431 and a close
    max_connections: int = Field(1000, ge=1)  # open connections; more wait in the listen backlog
    # Host names answered (the port is ignored; "*" answers any); default: the host of
    # base_url, the bind address and localhost.  Others get 421 (DNS rebinding).
    allowed_hosts: tuple[str, ...] | None = None

    @field_validator("header_timeout", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value


class FeedConfig(_Frozen):
    title: str = "qkfeed — Tin quân khu và báo quân đội"
    description: str = "Tin tức tổng hợp từ các trang quân khu và báo quân đội Việt Nam"
    link: str | None = None  # the HTML page readers open; default: the feed server's own "/"
    language: str = "vi"
    max_entries: int = Field(DEFAULT_FEED_ENTRIES, ge=1)
    # WebSub hubs (feeds/websub.py): advertised by every feed, told after a run changes one
    websub_hubs: tuple[str, ...] = ()

    @field_validator("websub_hubs", mode="before")
    @classmethod
    def _hub_urls(cls, value: object) -> object:
        hubs = tuple(value) if isinstance(value, list) else value
        for hub in hubs if isinstance(hubs, tuple) else ():
            if not isinstance(hub, str) or not re.match(r"^https?://[^/\s]+", hub):
                raise ValueError(f"not an http(s) URL: {hub!r}")
        return hubs


class Profile(_Frozen):
    """CSS selectors of one site.  Every field is optional; missing ones use the generic rules."""

    title: str | None = None
    date: str | None = None
    author: str | None = None
    body: str | None = None
    lead: str | None = None
    image: str | None = None
    remove: tuple[str, ...] = ()
    links: str | None = None  # listing page: <a> elements leading to articles
    next_page: str | None = None  # listing page: the <a> of the next page

    @field_validator("remove", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return (v,)
        if isinstance(v, list):
            return tuple(v)
        return v

    @field_validator("title", "date", "author", "body", "lead", "image", "links", "next_page")
    @classmethod
    def _selector(cls, v: str | None) -> str | None:
        if v is not None:
            _check_selector(v)
        return v

    @field_validator("remove")
    @classmethod
    def _selectors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for selector in v:
            _check_selector(selector)
        return v

    @property
    def is_empty(self) -> bool:
        return not any((self.title, self.date, self.author, self.body, self.lead, self.links))


def _check_selector(selector: str) -> None:
    from scraper.html import selector_problem  # lxml: loaded only when a profile has selectors

    problem = selector_problem(selector)
    if problem is not None:
        raise ValueError(f"invalid CSS selector {selector!r}: {problem}")


PROFILE_KEYS = tuple(Profile.model_fields)  # the selectors a source may also give directly

# How much of a source's config rests on real pages (``confidence``), as in shared/sites.md:
# "seen" in a stored copy of a real page, "cfg" from someone else's scraper config (often
# years old), "guess" (nothing known: the generic extractor does the work).
Confidence = Literal["seen", "cfg", "guess"]
DEFAULT_CONFIDENCE: Confidence = "seen"  # a profile written against pages you saved


def _http_urls(v: Any) -> Any:
    """A list of http(s) URLs as a tuple (the shape both URL lists of a source share)."""
    if isinstance(v, str):
        raise ValueError(f'must be a list of URLs, e.g. ["{v}"]')
    if isinstance(v, list):
        v = tuple(v)
    if isinstance(v, tuple):
        for u in v:
            if not isinstance(u, str) or not re.match(r"^https?://[^/\s]+", u):
                raise ValueError(f"{u!r} is not an http(s) URL")
    return v


class SourceConfig(_Frozen):
    id: str
    name: str
    # The site's own RSS 2.0 / Atom feeds, read as listings before start_urls (validated
    # first, so that start_urls may be empty when there are feeds).
    feed_urls: tuple[str, ...] = ()
    # A page that gives a session cookie a feed needs (qdnd.vn: "/rss"); visited when a feed
    # redirects in a loop, then the feed is asked again.  Default: the feed's first path
    # segment, then the site's root (scraper.pipeline.feedrun.session_pages).
    feed_session_url: str | None = None
    start_urls: tuple[str, ...]
    interval: float = DEFAULT_INTERVAL
    enabled: bool = True
    region: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    month_first: bool = False  # only for old English-style templates
    page_url: str | None = None  # listing page N when there is no next link: "{url}?page={n}"
    first_page: int = 0  # the number of the first page in page_url's numbering
    article_pattern: str | None = None  # regex an article URL path must match
    confidence: Confidence = DEFAULT_CONFIDENCE  # shown by `run.py sources` and /healthz
    profile: Profile = Profile()
    revisit: tuple[float, ...] | None = None  # overrides [fetch] revisit for this source

    @field_validator("revisit", mode="before")
    @classmethod
    def _revisit(cls, v: Any) -> Any:
        return parse_revisit(v) if v is not None else v

    @field_validator("start_urls", mode="before")
    @classmethod
    def _urls(cls, v: Any, info: ValidationInfo) -> Any:
        v = _http_urls(v)
        # feed_urls missing from info.data failed its own check: that error is the one to report
        if isinstance(v, tuple) and not v and not info.data.get("feed_urls", True):
            raise ValueError("needs at least one URL (or give feed_urls)")
        return v

    @field_validator("feed_urls", mode="before")
    @classmethod
    def _feeds(cls, v: Any) -> Any:
        return _http_urls(v)

    @field_validator("feed_session_url")
    @classmethod
    def _session_url(cls, v: str | None) -> str | None:
        if v is not None:
            _http_urls((v,))
        return v

    @field_validator("page_url")
    @classmethod
    def _page_url(cls, v: str | None) -> str | None:
        if v is not None and "{n}" not in v:
            raise ValueError("must contain {n} (the page number), e.g. '{url}?page={n}'")
        return v

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> Any:
        return parse_duration(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("article_pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def site_url(self) -> str:
        """A URL on the source's site: its first start URL, else its first feed."""
        return (self.start_urls or self.feed_urls)[0]


class Config(_Frozen):
    path: str = DEFAULT_CONFIG_PATH
    storage: StorageConfig = StorageConfig()
    fetch: FetchConfig = FetchConfig()
    server: ServerConfig = ServerConfig()
    feed: FeedConfig = FeedConfig()
    sources: dict[str, SourceConfig] = {}

    def source(self, source_id: str) -> SourceConfig:
        """The source named ``source_id``; ConfigError naming the known ids otherwise."""
        try:
            return self.sources[source_id]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise ConfigError(self.path, f"sources.{source_id}", f"no such source (known: {known})") from None

    def selected(self, ids: list[str] | tuple[str, ...] | None) -> list[SourceConfig]:
        """The sources named in ``ids`` (all enabled ones when empty), in config order."""
        if ids:
            return [self.source(i) for i in ids]
        return [s for s in self.sources.values() if s.enabled]
