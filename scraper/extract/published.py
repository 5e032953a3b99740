"""Which of a page's date signals is its publish time.

A page states its date in several places: metadata (JSON-LD ``datePublished``,
``article:published_time``), a visible date line near the title, sometimes a second
date line (a date in the header block and ``08:47`` beside the byline), and in
patterns only a dedicated library looks for (URL paths, ``<time>`` tags, copyright
lines, free text).  The order, in general form:

1. a full timestamp (date *and* time) wins over a date-only one on the same day:
   a date-only line is never read as local midnight while the metadata or a second
   date line says when that day it was published;
2. otherwise what was found first keeps its precedence (a profile's date selector,
   else metadata, else the date line nearest the title);
3. when our rules find no date, or only a date-only one, htmldate is asked
   (``find_date(..., original_date=True)``): it is the well-kept library for exactly
   this, with rules for markup in every language we have no rules for.  Its answer
   fills a missing date (``extensive_search=True``: free text too, as its own evaluation
   runs it), or lends its time to a date-only one of the same day (markup only: the
   text search finds days, not times); it never overrides a date of ours on another
   day (our lines are read with the site's day/month order and time zone, htmldate
   guesses both).  A bare 1 January from htmldate is its reading of a lone year
   ("© 2016", "năm 2023") and is not taken.

"Date-only" is judged by the value: local midnight.  A real article published at
00:00:00 sharp is rare, and reading it as date-only costs nothing (a full timestamp of
the same day is looked for, and midnight stays when none is found).

htmldate is called only in case 3, on the page's HTML parsed again (the tree the
extractor holds has lost its ``<script>`` blocks, JSON-LD among them) without its
``header``/``footer``/``nav``/``aside`` (site clocks, licence and copyright dates), so pages
that state their time, as the news sites qkfeed follows do, never pay for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from htmldate import find_date

from scraper.extract.trace import current
from scraper.html import HtmlElement, drop, parse_html
from scraper.normalize.dates import parse_datetime, parse_iso

__all__ = ["DateSignals", "has_time", "settle_published"]

MAX_OTHER_LINES = 6  # date lines after the first looked at for the time of a date-only one
HTMLDATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
CHROME = ("header", "footer", "nav", "aside")  # left out of what htmldate reads (see _page_chrome)
CHROME_KEEP = frozenset({*CHROME, "article", "main"})

logging.getLogger("htmldate").setLevel(logging.ERROR)  # it logs every rejected candidate


@dataclass
class DateSignals:
    """What the extractor found; ``line`` is the chosen date line (profile or nearest the title),
    ``line_first`` whether it outranks metadata (a profile's selector does)."""

    html: str
    url: str
    tz: tzinfo
    month_first: bool = False
    line: str | None = None
    line_first: bool = False
    metadata: datetime | None = None
    other_lines: Iterable[str] = ()


def has_time(dt: datetime, tz: tzinfo) -> bool:
    """False for a date-only value (local midnight, see the module docstring)."""
    local = dt.astimezone(tz)
    return (local.hour, local.minute, local.second) != (0, 0, 0)


def _same_day(a: datetime, b: datetime, tz: tzinfo) -> bool:
    return a.astimezone(tz).date() == b.astimezone(tz).date()


def settle_published(sig: DateSignals) -> tuple[str | None, datetime | None]:
    """(date_text, published) for the RawArticle: the line to parse, else the timestamp.

    ``normalize`` parses ``date_text`` first and falls back to ``published``; a date
    chosen from metadata or htmldate therefore comes back with ``date_text`` None.
    """
    tz = sig.tz
    line_dt = parse_datetime(sig.line, tz=tz, month_first=sig.month_first) if sig.line else None
    meta = sig.metadata
    # what wins before any time-of-day consideration
    if line_dt is not None and (sig.line_first or meta is None):
        first: tuple[str | None, datetime] | None = (sig.line, line_dt)
    elif meta is not None:
        first = (None, meta)
    else:
        first = None
    if first is not None and has_time(first[1], tz):
        if current() is not None:
            _explain(sig, line_dt, "line" if first[0] is not None else "metadata", _precedence(sig, line_dt))
        return first
    # date-only (or nothing): a full timestamp of the same day, from the other signals
    if first is not None:
        day = first[1]
        if line_dt is not None and line_dt is not day and has_time(line_dt, tz) and _same_day(line_dt, day, tz):
            if current() is not None:
                _explain(sig, line_dt, "line", FULL_BEATS_DAY)
            return sig.line, line_dt
        if meta is not None and meta is not day and has_time(meta, tz) and _same_day(meta, day, tz):
            if current() is not None:
                _explain(sig, line_dt, "metadata", FULL_BEATS_DAY)
            return None, meta
        for k, text in enumerate(sig.other_lines):
            if k >= MAX_OTHER_LINES:
                break
            other = parse_datetime(text, tz=tz, month_first=sig.month_first)
            if (t := current()) is not None:
                t.notes.setdefault("date.others", []).append((text, other))
            if other is not None and has_time(other, tz) and _same_day(other, day, tz):
                if t is not None:
                    _explain(sig, line_dt, "other", FULL_BEATS_DAY, other=text)
                return text, other
    # with a day known, only its time is wanted: htmldate's markup search (fast) states times,
    # its text search (extensive) mostly days
    found = htmldate_published(sig.html, sig.url, tz, extensive=first is None)
    if first is None:
        if current() is not None:
            _explain(sig, line_dt, "htmldate" if found else "", "no date from a profile, metadata or a date line",
                     found=found, asked=True)
        return None, found
    if found is not None and has_time(found, tz) and _same_day(found, first[1], tz):
        if current() is not None:
            _explain(sig, line_dt, "htmldate", FULL_BEATS_DAY, found=found, asked=True)
        return None, found
    if current() is not None:
        _explain(sig, line_dt, "line" if first[0] is not None else "metadata",
                 "date only, and no other signal gives a time on that day", found=found, asked=True)
    return first


FULL_BEATS_DAY = "full timestamp beats date-only (same day)"


def _precedence(sig: DateSignals, line_dt: datetime | None) -> str:
    """Why the first signal in the order won (it has a time)."""
    if line_dt is not None and sig.metadata is not None:
        return "the profile's date line outranks metadata" if sig.line_first else "metadata outranks the date line"
    return "the first date signal found (profile, metadata, date line), with a time"


def _shown(text: str | None, dt: datetime | None, tz: tzinfo) -> str | None:
    stamp = dt.astimezone(tz).isoformat() if dt is not None else None
    if text is None:
        return stamp
    return f"{text} → {stamp}" if stamp else text


def _explain(sig: DateSignals, line_dt: datetime | None, won: str, why: str, *,
             other: str | None = None, found: datetime | None = None, asked: bool = False) -> None:
    """The date decision into the trace: ``won`` is "line", "metadata", "other" (a further date
    line, ``other``), "htmldate" or "" (no date); every other signal seen loses, with why."""
    t = current()
    if t is None:
        return
    tz = sig.tz
    line_rule, line_sel = t.notes.get("date.line", ("date line", None))
    first = "line" if line_dt is not None and (sig.line_first or sig.metadata is None) else "metadata" if sig.metadata else ""
    seen: list[tuple[str, str, str | None, str | None, datetime | None]] = []
    if sig.line:
        seen.append(("line", line_rule, line_sel, sig.line, line_dt))
    if sig.metadata is not None:
        seen.append(("metadata", t.notes.get("date.metadata", "metadata"), None, None, sig.metadata))
    seen += [("other", "a further date line", None, text, dt) for text, dt in t.notes.get("date.others", [])]
    if asked:
        seen.append(("htmldate", "htmldate (find_date, original_date=True)", None, None, found))
    winner = next((s for s in seen if s[0] == won and (won != "other" or s[3] == other)), None)
    if winner is None:
        t.won("published", "none found", None, why=why)
    else:
        t.won("published", winner[1], _shown(winner[3], winner[4], tz), selector=winner[2], why=why)
    for cand in seen:
        if cand is winner:
            continue
        kind, rule, sel, text, dt = cand
        if dt is None:
            reason = "found nothing" if kind == "htmldate" else "holds no date it can read"
        elif winner is None:
            reason = "not taken"
        elif kind == first and won != first:
            reason = "date only (local midnight): " + FULL_BEATS_DAY
        elif won == first and has_time(winner[4], tz) and kind in ("line", "metadata"):  # type: ignore[arg-type]
            reason = _precedence(sig, line_dt)
        elif not _same_day(dt, winner[4], tz):  # type: ignore[arg-type]
            reason = f"another day than the {winner[1]}"
        elif not has_time(dt, tz):
            reason = "date only"
        else:
            reason = f"looked at after the {winner[1]}"
        t.lost("published", rule, _shown(text, dt, tz), reason, selector=sel)


def _page_chrome(el: HtmlElement) -> bool:
    """The page's own header/footer/nav/aside: a site clock, a licence or copyright date
    (htmldate's text search takes them).  An article's ``<header>`` (inside ``<article>`` or
    ``<main>``, or holding the ``<h1>`` or a ``<time>``) is where its date is: kept."""
    if any(a.tag in CHROME_KEEP for a in el.iterancestors()):
        return False
    return el.find(".//h1") is None and el.find(".//time") is None


def htmldate_published(html: str, url: str, tz: tzinfo, *, extensive: bool = True) -> datetime | None:
    """htmldate's publish date of the page (aware UTC; a zoneless one read in ``tz``), or None."""
    try:
        tree = parse_html(html, html_elements=True)  # htmldate takes no other tree
        for el in [el for el in tree.iter(*CHROME) if _page_chrome(el)]:
            drop(el)
        found = find_date(
            tree, extensive_search=extensive, original_date=True, outputformat=HTMLDATE_FORMAT, url=url or None,
        )
    except Exception:  # noqa: BLE001 -- a third-party parser on hostile input; a page without a date is no error
        return None
    if not found or found[4:19] == "-01-01T00:00:00" and len(found) == 19:
        return None  # 1 January without a time is htmldate's reading of a bare year ("năm 2023", "© 2016")
    return parse_iso(found, tz=tz)
