"""Dates, titles and authors on pages from anywhere: qkfeed's generic extractor against its peers.

    python bench/extraction_wild.py [--only dates|fundus] [--dates DIR] [--fundus DIR]
                                    [--pages N] [--tools qkfeed,htmldate,trafilatura] [--misses N]

Two sets of real pages that nobody here wrote, kept outside the repository (workplace rule:
no other project's pages are committed).  Each is looked for in the directory given by its
flag, else by its environment variable; a set whose directory is missing is skipped with a
line saying so.

(d) ``dates`` (``--dates`` / ``QKFEED_EVAL_DATES``): htmldate's own evaluation set -- the
    ``eval_default.json`` and ``eval_mediacloud_2020.json`` of ``adbar/htmldate``'s
    ``tests/`` beside its ``eval/``, ``cache/`` and ``test_set/`` page directories (about a
    thousand news and blog pages in many languages, publish day checked by hand).  Scored
    as htmldate's ``tests/evaluation.py`` does: a page is right when the tool's day equals
    the truth (or both have none).  qkfeed runs its generic extractor (an empty profile)
    with the site time zone UTC.  The truth is the day *as the page states it*, with no zone,
    and qkfeed gives an instant: its day counts when it is the truth's in UTC (where qkfeed
    read the page's zoneless dates) or in one of the UTC offsets the page's own timestamps
    state (``page_zones``).  The
    "time" column is the share of pages where qkfeed gives the right day *and* a time of day
    (not local midnight).  htmldate runs as its own evaluation runs it
    (``original_date=True, extensive_search=True``); trafilatura through
    ``extract_metadata`` (which calls htmldate with its own settings).
(e) ``fundus`` (``--fundus`` / ``QKFEED_EVAL_FUNDUS``): the parser test data of
    ``flairNLP/fundus`` (``tests/resources/parser/test_data``: ``<country>/<Publisher>_<date>.html.gz``
    with ``<Publisher>.json`` holding each parser version's title, authors and
    publishing_date; the files of one publisher pair with its versions in date order).
    Title: exact after NFC and whitespace folding.  Authors: the same set of names
    (case-folded; qkfeed's agencies count as authors here, fundus lists them together).
    Day: the truth's calendar day in the truth's own offset (a zoneless truth: in the
    country's zone), the tool's instant read in that offset (a truth dated after the page's
    crawl date, day and month swapped, is left out); trafilatura gives a zoneless
    wall-clock date, compared as it is.  Minute (qkfeed): the same instant to the minute,
    on the pages whose truth has a time and an offset.  qkfeed runs its generic extractor
    with the time zone of the publisher's country (what a user adding the site would set).

Time is the median wall time per page of one call on the HTML string; the tools take turns
page by page.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import statistics
import sys
import time
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _common import Goal, print_goals, print_table

from scraper.config import Profile, SourceConfig
from scraper.errors import ExtractError
from scraper.pipeline.runner import article_from_file

DATES_ENV = "QKFEED_EVAL_DATES"
FUNDUS_ENV = "QKFEED_EVAL_FUNDUS"
DATE_TRUTH_FILES = ("eval_mediacloud_2020.json", "eval_default.json")
DATE_PAGE_DIRS = ("test_set", "cache", "eval")
TOOLS = ("qkfeed", "htmldate", "trafilatura")
# The figures (issue 11): the bars qkfeed has to clear.
HTMLDATE_DAY_GOAL = 0.90  # htmldate's day accuracy on (d); the measured figure is used when it runs
# A zone per fundus country directory (the capital's), for zoneless truths and zoneless page dates.
COUNTRY_TZ = {
    "at": "Europe/Vienna", "au": "Australia/Sydney", "be": "Europe/Brussels", "ca": "America/Toronto",
    "ch": "Europe/Zurich", "cn": "Asia/Shanghai", "cz": "Europe/Prague", "de": "Europe/Berlin",
    "dk": "Europe/Copenhagen", "es": "Europe/Madrid", "fr": "Europe/Paris", "gl": "America/Nuuk",
    "id": "Asia/Jakarta", "il": "Asia/Jerusalem", "ind": "Asia/Kolkata", "isl": "Atlantic/Reykjavik",
    "it": "Europe/Rome", "jp": "Asia/Tokyo", "kr": "Asia/Seoul", "lb": "Asia/Beirut",
    "li": "Europe/Vaduz", "ls": "Africa/Maseru", "lt": "Europe/Vilnius", "lu": "Europe/Luxembourg",
    "mx": "America/Mexico_City", "my": "Asia/Kuala_Lumpur", "na": "Africa/Windhoek", "no": "Europe/Oslo",
    "pl": "Europe/Warsaw", "pt": "Europe/Lisbon", "py": "America/Asuncion", "ru": "Europe/Moscow",
    "se": "Europe/Stockholm", "tr": "Europe/Istanbul", "tw": "Asia/Taipei", "tz": "Africa/Dar_es_Salaam",
    "ua": "Europe/Kyiv", "uk": "Europe/London", "us": "America/New_York", "vn": "Asia/Ho_Chi_Minh",
    "za": "Africa/Johannesburg",
}  # fmt: skip


# --- pages ------------------------------------------------------------------------------------


@dataclass
class Case:
    """One page and its truth (``day``: as the page states it; ``instant``: when it has an offset)."""

    name: str
    url: str
    html: str
    timezone: str = "UTC"
    day: date | None = None
    instant: datetime | None = None  # the truth to the minute (fundus, with an offset)
    truth_tz: tzinfo = UTC  # where the truth's day is read
    truth_zones: tuple[tzinfo, ...] = ()  # (d): the zones an instant's day may be read in
    title: str | None = None
    authors: list[str] | None = None
    day_unknown: bool = False  # (e): the truth's date is impossible; not scored


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        return str(best) if best is not None else data.decode("utf-8", "replace")


def date_cases(root: Path, limit: int | None) -> list[Case]:
    truth: dict[str, dict[str, Any]] = {}
    for name in DATE_TRUTH_FILES:
        path = root / name
        if path.is_file():
            truth.update(json.loads(path.read_text("utf-8")))
    cases = []
    for url, item in list(truth.items())[:limit]:
        page = next((root / d / item["file"] for d in DATE_PAGE_DIRS if (root / d / item["file"]).is_file()), None)
        if page is None:
            continue
        value = item.get("date")
        day = date.fromisoformat(value) if isinstance(value, str) else None  # NaN: the page has none
        html = _decode(page.read_bytes())
        cases.append(Case(name=item["file"], url=url, html=html, day=day, truth_zones=page_zones(html)))
    return cases


_STATED_OFFSET = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:?\d\d)(?![\d:])")


def page_zones(html: str) -> tuple[tzinfo, ...]:
    """UTC and every UTC offset the page's own timestamps state.

    (d)'s truth is the day as the page states it, without a zone, and qkfeed gives an
    instant: its day is read in the zones the page itself uses (UTC is where qkfeed,
    run with site zone UTC, read the page's zoneless dates).  Only offsets the page
    writes count, so an instant hours away from the truth's day is never accepted.
    """
    zones: list[tzinfo] = [UTC]
    for stated in {m.group(1).replace(":", "") for m in _STATED_OFFSET.finditer(html)} - {"Z"}:
        minutes = int(stated[1:3]) * 60 + int(stated[3:5])
        zones.append(timezone(timedelta(minutes=-minutes if stated[0] == "-" else minutes)))
    return tuple(zones)


def _crawl_day(name: str) -> date | None:
    m = re.search(r"_(\d{4})_(\d\d)_(\d\d)\.html\.gz$", name)
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


def fundus_cases(root: Path, limit: int | None) -> list[Case]:
    cases = []
    for country in sorted(p for p in root.iterdir() if p.is_dir()):
        meta_path = country / "meta.info"
        meta = json.loads(meta_path.read_text("utf-8")) if meta_path.is_file() else {}
        tz_name = COUNTRY_TZ.get(country.name, "UTC")
        for truth_path in sorted(country.glob("*.json")):
            versions = json.loads(truth_path.read_text("utf-8"))
            files = sorted(country.glob(f"{truth_path.stem}_*.html.gz"))
            if len(files) != len(versions):
                print(f"  (e) {truth_path}: {len(files)} pages for {len(versions)} versions, left out", file=sys.stderr)
                continue
            for page, version in zip(files, sorted(versions, key=_version_key), strict=True):
                item = versions[version]
                case = Case(
                    name=f"{country.name}/{page.name}", url=meta.get(page.name, {}).get("url") or "https://example.invalid/",
                    html=_decode(gzip.decompress(page.read_bytes())), timezone=tz_name,
                    title=item.get("title"), authors=list(item.get("authors") or []), truth_tz=ZoneInfo(tz_name),
                )
                published = item.get("publishing_date")
                if isinstance(published, str) and published:
                    dt = datetime.fromisoformat(published)
                    crawled = _crawl_day(page.name)
                    if crawled is not None and dt.date() > crawled + timedelta(days=1):
                        # days after the page was crawled cannot be right (day and month swapped);
                        # one day after can (the crawl date is the crawler's, the truth the page's zone)
                        print(f"  (e) {case.name}: publishing_date {published} is after the crawl "
                              f"({crawled}), left out of the date scores", file=sys.stderr)
                        case.day_unknown = True
                    else:
                        if dt.tzinfo is not None:
                            case.instant, case.truth_tz = dt, dt.tzinfo
                        case.day = dt.date()
                cases.append(case)
    return cases[:limit]


# --- tools ------------------------------------------------------------------------------------


@dataclass
class Output:
    title: str | None = None
    published: datetime | None = None  # aware (qkfeed) or a zoneless wall clock (peers)
    has_time: bool = False
    authors: list[str] = field(default_factory=list)
    rejected: bool = False  # qkfeed: no article (no body or title found, an error page)


def run_qkfeed(case: Case) -> Output:
    source = SourceConfig(id="wild", name="wild", start_urls=(case.url if case.url.startswith("http") else
                          "https://example.invalid/",), profile=Profile(), timezone=case.timezone)
    try:
        article = article_from_file(case.html, case.url, source)
    except ExtractError:
        return Output(rejected=True)
    published = article.published
    local = published.astimezone(source.tz) if published else None
    has_time = bool(local and (local.hour, local.minute, local.second) != (0, 0, 0))
    return Output(article.title, published, has_time, [*article.authors, *article.agencies])


def run_htmldate(case: Case) -> Output:
    from htmldate import find_date

    found = find_date(case.html, original_date=True, extensive_search=True, outputformat="%Y-%m-%d %H:%M")
    if not found:
        return Output()
    return Output(published=datetime.strptime(found, "%Y-%m-%d %H:%M"), has_time=not found.endswith("00:00"))


def run_trafilatura(case: Case) -> Output:
    import trafilatura

    doc = trafilatura.extract_metadata(
        case.html, default_url=case.url,
        date_config={"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%d %H:%M"},
    )
    published = datetime.strptime(doc.date, "%Y-%m-%d %H:%M") if doc.date else None
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return Output(doc.title, published, bool(doc.date and not doc.date.endswith("00:00")), authors)


RUNNERS: dict[str, Callable[[Case], Output]] = {
    "qkfeed": run_qkfeed, "htmldate": run_htmldate, "trafilatura": run_trafilatura,
}


def measure(tools: list[str], cases: list[Case]) -> dict[str, tuple[list[Output], list[float]]]:
    """Every tool on every page, taking turns page by page (in rotating order)."""
    results: dict[str, tuple[list[Output], list[float]]] = {t: ([], []) for t in tools}
    for k, case in enumerate(cases):
        for tool in tools[k % len(tools):] + tools[: k % len(tools)]:
            started = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = RUNNERS[tool](case)
            except Exception as exc:  # a tool crashing on a page scores zero on it
                print(f"  {tool} failed on {case.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                out = Output()
            results[tool][1].append((time.perf_counter() - started) * 1000)
            results[tool][0].append(out)
    return results


# --- scores -----------------------------------------------------------------------------------


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def day_ok(c: Case, o: Output) -> bool:
    if c.day is None or o.published is None:
        return c.day is None and o.published is None
    if o.published.tzinfo is None:
        return o.published.date() == c.day
    return any(o.published.astimezone(zone).date() == c.day for zone in c.truth_zones or (c.truth_tz,))


def minute_ok(c: Case, o: Output) -> bool:
    """The same instant to the minute (pages whose truth has an offset; others count by day)."""
    if c.instant is None:
        return day_ok(c, o)
    if o.published is None or o.published.tzinfo is None:
        return False
    return o.published.astimezone(UTC).replace(second=0, microsecond=0) == c.instant.astimezone(UTC).replace(
        second=0, microsecond=0)


def time_kept(c: Case, o: Output) -> bool:
    return day_ok(c, o) and o.has_time


def title_ok(c: Case, o: Output) -> bool:
    return _norm(o.title) == _norm(c.title)


def authors_ok(c: Case, o: Output) -> bool:
    return {_norm(a).casefold() for a in o.authors if _norm(a)} == {_norm(a).casefold() for a in c.authors or [] if _norm(a)}


def _f(rate: float) -> str:
    return f"{rate:.3f}"


def _rate(cases: list[Case], outs: list[Output], check: Callable[[Case, Output], bool]) -> float:
    return sum(check(c, o) for c, o in zip(cases, outs, strict=True)) / len(cases) if cases else math.nan


def _misses(tool: str, cases: list[Case], outs: list[Output], checks: dict[str, Callable[[Case, Output], bool]],
            count: int) -> None:
    shown = 0
    for c, o in zip(cases, outs, strict=True):
        for name, check in checks.items():
            if shown < count and not check(c, o):
                if name in ("day", "minute") and c.day_unknown:
                    continue
                got = {"day": o.published, "minute": o.published, "title": o.title, "authors": o.authors}[name]
                want = {"day": c.day, "minute": c.instant, "title": c.title, "authors": c.authors}[name]
                print(f"  {tool}: {c.name}: {name}: got {got!r}, want {want!r}")
                shown += 1


def report_dates(cases: list[Case], results: dict[str, tuple[list[Output], list[float]]], misses: int) -> list[Goal]:
    kept = [not o.rejected for o in results["qkfeed"][0]] if "qkfeed" in results else [True] * len(cases)
    sub = [c for c, k in zip(cases, kept, strict=True) if k]
    print(f"\n(d) date evaluation set: {len(cases)} pages, {len(sub)} of them extracted by qkfeed "
          f"(generic extractor; a page it rejects -- no body found -- counts as a miss in \"day\")\n")
    rows, table = [], {}
    for tool, (outs, ms) in results.items():
        sub_outs = [o for o, k in zip(outs, kept, strict=True) if k]
        table[tool] = (_rate(cases, outs, day_ok), _rate(cases, outs, time_kept), statistics.median(ms),
                       _rate(sub, sub_outs, day_ok))
        no_date = sum(o.published is None for o in outs) / len(cases)
        rows.append([tool, _f(table[tool][0]), _f(table[tool][3]), _f(table[tool][1]) if tool == "qkfeed" else "-",
                     _f(no_date), table[tool][2]])
    print_table(["tool", "day", "day (extracted pages)", "day+time", "no date", "ms/page"], rows)
    if misses and "qkfeed" in results:
        _misses("qkfeed", cases, results["qkfeed"][0], {"day": day_ok}, misses)
    if "qkfeed" not in table:
        return []
    bar = table["htmldate"][0] if "htmldate" in table else HTMLDATE_DAY_GOAL
    note = "htmldate, same run" if "htmldate" in table else "htmldate's figure in issue 11"
    goals = [Goal("(d) qkfeed day accuracy", table["qkfeed"][0], bar, at_most=False, note=note)]
    if "htmldate" in table:
        goals.append(Goal("(d) qkfeed day accuracy on the pages it extracts", table["qkfeed"][3], table["htmldate"][3],
                          at_most=False, note="htmldate on the same pages, same run"))
    return goals


def report_fundus(cases: list[Case], results: dict[str, tuple[list[Output], list[float]]], misses: int) -> list[Goal]:
    timed = [c for c in cases if c.instant is not None]
    unknown = sum(c.day_unknown for c in cases)
    print(f"\n(e) fundus parser test data: {len(cases)} pages ({len(timed)} with a time and offset; "
          f"{unknown} with an impossible date, left out of \"day\") (qkfeed: generic extractor)\n")
    checks = {"title": title_ok, "authors": authors_ok, "day": day_ok}
    rows, table = [], {}
    for tool, (outs, ms) in results.items():
        if tool == "htmldate":
            continue  # dates only: (d) measures it
        row = {name: _rate(cases, outs, check) for name, check in checks.items()}
        dated = [(c, o) for c, o in zip(cases, outs, strict=True) if not c.day_unknown]
        row["day"] = _rate([c for c, _ in dated], [o for _, o in dated], day_ok)
        timed_outs = [o for c, o in zip(cases, outs, strict=True) if c.instant is not None]
        row["minute"] = _rate(timed, timed_outs, minute_ok) if tool == "qkfeed" else math.nan
        row["ms"] = statistics.median(ms)
        table[tool] = row
        rows.append([tool, _f(row["title"]), _f(row["authors"]), _f(row["day"]),
                     _f(row["minute"]) if tool == "qkfeed" else "-", row["ms"]])
    print_table(["tool", "title", "authors", "day", "minute", "ms/page"], rows)
    if misses and "qkfeed" in results:
        _misses("qkfeed", cases, results["qkfeed"][0], {**checks, "minute": minute_ok}, misses)
    if "qkfeed" not in table or "trafilatura" not in table:
        return []
    q, t = table["qkfeed"], table["trafilatura"]
    ahead = 1 / len(cases)  # "ahead": at least one page more than trafilatura
    return [Goal(f"(e) qkfeed {name} ahead of trafilatura", q[name], t[name] + ahead, at_most=False,
                 note=f"trafilatura {t[name]:.3f} + one page, same run") for name in checks]


def _root(flag: str | None, env: str) -> Path | None:
    value = flag or os.environ.get(env)
    return Path(value) if value else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["dates", "fundus"], help="run one set of pages")
    parser.add_argument("--dates", help=f"htmldate's tests/ directory (default: ${DATES_ENV})")
    parser.add_argument("--fundus", help=f"fundus' test_data directory (default: ${FUNDUS_ENV})")
    parser.add_argument("--pages", type=int, help="only the first N pages of each set")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, from: " + ", ".join(TOOLS))
    parser.add_argument("--misses", type=int, default=0, help="list up to N of qkfeed's wrong fields per set")
    args = parser.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    if set(tools) - set(TOOLS):
        parser.error(f"unknown tools: {', '.join(sorted(set(tools) - set(TOOLS)))}")
    goals: list[Goal] = []
    sets = (("dates", args.dates, DATES_ENV, date_cases, report_dates),
            ("fundus", args.fundus, FUNDUS_ENV, fundus_cases, report_fundus))
    for name, flag, env, load, report in sets:
        if args.only not in (None, name):
            continue
        root = _root(flag, env)
        if root is None or not root.is_dir():
            print(f"\n({name}) skipped: no data directory (--{name} or ${env}; see this module's docstring)")
            continue
        cases = load(root, args.pages)
        if not cases:
            print(f"\n({name}) skipped: no page found under {root}")
            continue
        set_tools = [t for t in tools if not (name == "fundus" and t == "htmldate")]
        goals += report(cases, measure(set_tools, cases), args.misses)
    if goals:
        print_goals(goals)
    else:
        print("\nno set measured: GOAL MISSED lines need data (see --help)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
