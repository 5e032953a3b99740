"""Authors a page states in its metadata: people apart from agencies and the site itself.

Where a CMS names who wrote the article: JSON-LD ``author`` (``Person`` objects or plain
names), ``<meta name=author>``, ``article:author``, ``dc.creator`` and the like, and
``itemprop=author`` / ``rel=author`` elements.  These are names, one per value, so they
are kept as written ("Anne-Marie Slaughter", "Jan Michael Marchart") instead of going
through the byline parser, which splits a Vietnamese credit line at dashes and checks
names against Vietnamese name shapes.

What is not a person is kept apart (``agencies``): a value that names the site or its
publisher (``og:site_name``, JSON-LD ``publisher``, the host name), a host name itself
(``NLD.COM.VN``, ``mbl.is``), a JSON-LD ``Organization``, what the byline parser calls an
agency (``TTXVN``, ``Reuters``, ``Báo Quân đội nhân dân``), and names built with
newsroom words (``Redaktion``, ``Staff``, ``Online``); URLs and e-mail addresses are
dropped.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from scraper.html import HtmlElement, text_of
from scraper.normalize.bylines import parse_byline

__all__ = ["MetaAuthors", "json_ld_people", "metadata_authors"]

MAX_NAME_CHARS = 80
MAX_NAMES = 12
AUTHOR_META = ("author", "article:author", "dc.creator", "dcterms.creator", "parsely-author", "sailthru.author",
               "byl", "cxenseparse:author")  # fmt: skip
# One value may list several names: "A, B and C" · "A; B" · "A & B" · "A und B" (not dashes:
# "Anne-Marie"; not slashes: desk codes such as "srf/hosb").
_LIST_SPLIT = re.compile(r"\s*[;,|&]\s*|\s+(?:and|und|et|y|e|og|och|và)\s+", re.I)
_BY_PREFIX = re.compile(r"^(?:by|von|par|por|di|door|af|av|tác giả)\s*:?\s+", re.I)
# Words that make a name an organization or a desk, not a person (lower case, whole words).
_ORG_WORDS = re.compile(
    r"(?<![^\W\d_])(?:redaktion|redaction|rédaction|redacción|redazione|redactie|staff|team|desk|newsroom|editors?|"
    r"editorial|online|news|nachrichten|agency|agentur|agence|agencia|press|presse|prensa|media|"
    r"zeitung|times|post|journal|gazette|tribune|herald|daily|magazine|magazin|tv|radio|digital|"
    r"web|group|gmbh|ltd|inc|corp|reporter|correspondent)(?![^\W\d_])",
    re.I,
)
_HOST = re.compile(r"^(?:[\w-]+\.)+[a-z]{2,}$", re.I)
_URL = re.compile(r"^(?:https?:)?//|^www\.|@", re.I)
_AUTHOR_PROP = etree.XPath(".//*[@itemprop='author'] | .//a[@rel='author'] | .//link[@rel='author']")


@dataclass(frozen=True)
class MetaAuthors:
    """People and agencies named by the page's metadata, each in page order, no repeats."""

    authors: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    source: str = ""  # where the people were named: "json-ld", "meta", "markup" ("": nowhere)

    def __bool__(self) -> bool:
        return bool(self.authors or self.agencies)


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFC", " ".join(name.split()))
    return _BY_PREFIX.sub("", name).strip(" \t,;:·•|-–—")


def _key(text: str) -> str:
    return re.sub(r"[^\w]", "", text.casefold())


def _metas(root: HtmlElement) -> dict[str, str]:
    """Every ``<meta>`` value by its lower-cased property/name/itemprop, first one kept (one pass;
    ``meta_content`` walks the page's metas on every call)."""
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        value = (meta.get("content") or "").strip()
        if value:
            for attr in ("property", "name", "itemprop"):
                key = meta.get(attr)
                if key:
                    found.setdefault(key.strip().lower(), value)
    return found


def _site_names(metas: dict[str, str], ld: dict[str, Any], url: str) -> set[str]:
    """Keys of the names the site goes by: og:site_name, publisher, application name, host."""
    names = {metas.get(n) for n in ("og:site_name", "application-name", "twitter:site", "dc.publisher", "publisher")}
    publisher = ld.get("publisher")
    if isinstance(publisher, dict):
        names.add(publisher.get("name") if isinstance(publisher.get("name"), str) else None)
    host = urlsplit(url).hostname or ""
    labels = [p for p in host.split(".") if p not in ("www", "m", "amp")]
    names.update({host, ".".join(labels), labels[0] if labels else None})
    return {_key(n) for n in names if n and _key(n)}


def json_ld_people(ld: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(people, organizations) named by a JSON-LD article's ``author``."""
    raw = ld.get("author")
    people: list[str] = []
    orgs: list[str] = []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, str):
            people.append(item)
        elif isinstance(item, dict):
            name = item.get("name")
            kind = item.get("@type", "Person")
            kinds = kind if isinstance(kind, list) else [kind]
            if isinstance(name, str):
                (people if "Person" in kinds or not any(isinstance(k, str) for k in kinds) else orgs).append(name)
    return people, orgs


def _agency_name(name: str, site_keys: set[str]) -> str | None:
    """The agency ``name`` stands for (itself, or the ``Theo X`` source), None for a person."""
    key = _key(name)
    if key in site_keys or (len(key) >= 4 and any(len(s) >= 4 and (s in key or key in s) for s in site_keys)):
        return name
    if _HOST.match(name) or _ORG_WORDS.search(name):
        return name
    parsed = parse_byline(name)  # the Vietnamese byline rules know the agencies: TTXVN, Báo …, Theo …
    return ", ".join(parsed.agencies) if parsed.agencies and not parsed.authors else None


def metadata_authors(root: HtmlElement, ld: dict[str, Any], url: str) -> MetaAuthors:
    """People and agencies the metadata names, from the most structured source that names a person.

    JSON-LD first (typed), then ``<meta>`` (one value, maybe a list), then ``itemprop=author``
    / ``rel=author`` elements.  A source naming only the site (``<meta name=author
    content="VnExpress">``) gives way to the next, so a person named further down still counts.
    """
    metas = _metas(root)
    site_keys = _site_names(metas, ld, url)
    people, orgs = json_ld_people(ld) if ld else ([], [])
    meta = [metas[name] for name in AUTHOR_META if name in metas]
    sources = (("json-ld", lambda: people, orgs), ("meta", lambda: meta, []), ("markup", lambda: _marked(root), []))
    agencies: list[str] = []
    for source, names_of, org_names in sources:
        names = names_of()  # the markup is searched only when the metadata names nobody
        found: list[str] = []
        for value in (html.unescape(v) for v in names):
            if _URL.search(value.strip()):
                continue  # article:author is often a profile URL
            for raw in _LIST_SPLIT.split(value):
                name = _clean(raw)
                if name and len(name) <= MAX_NAME_CHARS:
                    _sort(name, site_keys, found, agencies)
        agencies += [_clean(n) for n in org_names if _clean(n)]
        if found:
            return MetaAuthors(_unique(found), _unique(agencies), source)
    return MetaAuthors((), _unique(agencies), "")


def _marked(root: HtmlElement) -> list[str]:
    """Names in ``itemprop=author`` (or its ``itemprop=name``) and ``rel=author`` elements."""
    names = []
    for el in _AUTHOR_PROP(root):
        name_el = el.find(".//*[@itemprop='name']")
        value = el.get("content") or (name_el.get("content") if name_el is not None else None)
        names.append(value or text_of(name_el if name_el is not None else el))
    return names


def _sort(name: str, site_keys: set[str], people: list[str], agencies: list[str]) -> None:
    agency = _agency_name(name, site_keys)
    if agency is None:
        people.append(_without_credit_word(name))
    else:
        agencies.append(agency)


def _without_credit_word(name: str) -> str:
    """'Theo Hồ Hương' -> 'Hồ Hương': the byline rules read one person after a credit word;
    the name itself stays as written (its case, its hyphens)."""
    parsed = parse_byline(name)
    if len(parsed.authors) != 1:
        return name
    tail = name.strip()[-len(parsed.authors[0]):].strip()
    return tail if _key(tail) == _key(parsed.authors[0]) and len(tail) < len(name.strip()) else name


def _unique(names: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for name in names:
        if _key(name) not in seen and len(out) < MAX_NAMES:
            seen.add(_key(name))
            out.append(name)
    return tuple(out)
