"""Extraction quality and speed: qkfeed against trafilatura and newspaper4k, side by side.

    python bench/extraction.py [--only fixtures|public|real] [--tools qkfeed,trafilatura,newspaper4k]
                               [--pages N] [--worst N]

Three sets of pages, every tool measured again in the same run:

(a) ``fixtures``: every article of the fixture sites (``tests/fixtures/sites/*``),
    with field-level ground truth from their golden ``expected/*.json``.  qkfeed
    runs with the site's profile from ``config.toml`` (the way the service runs).
    Per tool: title exact match, publish time exact match (to the minute; times
    a tool gives without an offset are read as site-local time), publish *day*
    match (for tools that only find a date), authors exact match (the set of
    names, case-insensitive), body F1.
(b) ``public``: the Article Extraction Benchmark in
    ``../shared/bench/article-extraction-benchmark`` (181 pages, ground-truth
    bodies).  qkfeed runs its generic extractor (an empty profile).  Only the
    body is scored.
(c) ``real``: the real-page corpus of ``tests/fixtures/real`` (Vietnamese news pages from other
    projects' test data, fields checked by hand; see ``tests/real_corpus.py``, which also says
    where the page files are looked for).  qkfeed runs its generic extractor (an empty
    profile).  Scored as (a) -- title, publish time to the minute (or the day, where the page
    shows only a date), day, authors -- and the body by whether it contains the page's chosen
    sentence ("body" column; a single sentence makes an F1 meaningless), plus the share of
    pages with every field right.

Body scoring is the benchmark's own metric, as its README describes it: the
text is cut into ``\\w+`` tokens, compared as multisets of 4-token shingles;
precision and recall are computed per page and averaged over the pages (a page
with an empty prediction counts for recall only), and F1 is taken of the two
averages.  The golden body of a fixture article is its ``body_contains``
paragraphs.

Time is wall time per page of one call that parses the HTML and returns the
fields (qkfeed: extraction + normalization), median over the pages.  The tools
take turns page by page, so a machine whose load changes during the run slows
them alike.

newspaper4k runs with ``fetch_images=False`` (otherwise it downloads the top
image).  Its Korean tokenizer needs NLTK data that cannot be downloaded here,
so it is given a plain ``\\w+`` tokenizer that needs none (two pages); its
Japanese one needs tinysegmenter, so it gets one token per character (two pages).

For (b), qkfeed's body is its article text without image captions
(``<figcaption>``), as the benchmark's ``articleBody`` is; in (a) the golden
bodies include captions, and so does qkfeed's ``body_text``.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import re
import statistics
import sys
import time
import tomllib
import types
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scraper.config import Profile, SourceConfig  # noqa: E402
from scraper.config_load import config_from_dict  # noqa: E402
from scraper.errors import ExtractError  # noqa: E402
from scraper.normalize.article import body_text_of  # noqa: E402
from scraper.pipeline.runner import article_from_file  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from real_corpus import corpus as real_corpus  # noqa: E402
from real_corpus import norm as real_norm  # noqa: E402

SITES_DIR = ROOT / "tests" / "fixtures" / "sites"
PUBLIC_DIR = ROOT.parent / "shared" / "bench" / "article-extraction-benchmark"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SHINGLE = 4
TOOLS = ("qkfeed", "trafilatura", "newspaper4k")
_TOKEN = re.compile(r"\w+")
_CHAR = re.compile(r"\w")


# --- pages ------------------------------------------------------------------------------------


@dataclass
class Case:
    """One page and what should come out of it (None: not scored)."""

    name: str
    url: str
    html: str
    body: str
    title: str | None = None
    published: datetime | None = None
    authors: list[str] | None = None
    source: SourceConfig | None = None  # qkfeed's profile for the page
    day_only: bool = False  # the page shows a publish date without a time: score the day


def fixture_cases() -> list[Case]:
    """Every golden article of the fixture sites, links pointing at the real site's origin."""
    config = config_from_dict(tomllib.loads((ROOT / "config.toml").read_text("utf-8")))
    cases = []
    for manifest_path in sorted(SITES_DIR.glob("*/site.json")):
        site = manifest_path.parent
        manifest = json.loads(manifest_path.read_text("utf-8"))
        origin = manifest.get("origin", "https://example.invalid").rstrip("/")
        source = config.sources.get(site.name) or SourceConfig(id=site.name, name=site.name, start_urls=(origin + "/",))
        for exp_path in sorted((site / "expected").glob("*.json")):
            exp = json.loads(exp_path.read_text("utf-8"))
            html = (site / manifest["routes"][exp["url"]]).read_text("utf-8").replace("{{BASE}}", origin)
            published = datetime.strptime(exp["published"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if exp["published"] else None
            cases.append(Case(
                name=f"{site.name}/{exp_path.stem}", url=origin + exp["url"], html=html,
                body="\n".join(exp["body_contains"]), title=exp["title"], published=published,
                authors=list(exp["authors"]), source=source,
            ))
    return cases


def public_cases(limit: int | None = None) -> list[Case]:
    """The public benchmark's pages and ground-truth bodies."""
    truth = json.loads((PUBLIC_DIR / "ground-truth.json").read_text("utf-8"))
    cases = []
    for key in sorted(truth)[:limit]:
        html = gzip.decompress((PUBLIC_DIR / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8")
        cases.append(Case(name=key[:12], url=truth[key].get("url") or "https://example.invalid/", html=html,
                          body=truth[key].get("articleBody") or ""))
    return cases


def real_cases() -> list[Case]:
    """The real-page corpus, the pages found on this machine (the body is the chosen sentence)."""
    cases = []
    for page in real_corpus():
        if not page.available:
            print(f"  (c) {page.id}: page file not found, left out", file=sys.stderr)
            continue
        cases.append(Case(
            name=page.id, url=page.url, html=page.html(), body=page.body_sentence, title=page.title,
            published=page.published.astimezone(UTC) if page.published else None,
            authors=list(page.authors), day_only=page.published_precision == "day",
        ))
    return cases


# --- tools ------------------------------------------------------------------------------------


@dataclass
class Output:
    title: str | None = None
    published: datetime | None = None
    has_time: bool = True  # False: the tool gives a calendar date only
    authors: list[str] = field(default_factory=list)
    body: str = ""


def run_qkfeed(case: Case, *, metadata: bool) -> Output:
    source = case.source or SourceConfig(id="generic", name="generic", start_urls=(case.url,), profile=Profile())
    try:
        article = article_from_file(case.html, case.url, source)
    except ExtractError:
        return Output()
    # the public benchmark's articleBody leaves image captions out; qkfeed keeps them in <figcaption>
    body = article.body_text if metadata else body_text_of(article.body_html, captions=False)
    return Output(article.title, article.published, True, list(article.authors), body)


def run_trafilatura(case: Case, *, metadata: bool) -> Output:
    import trafilatura

    if not metadata:  # exactly the call of the public benchmark's own trafilatura runner
        return Output(body=trafilatura.extract(case.html, include_comments=False) or "")
    doc = trafilatura.bare_extraction(
        case.html, url=case.url, include_comments=False, with_metadata=True,
        date_extraction_params={"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%d %H:%M"},
    )
    if doc is None:
        return Output()
    published, has_time = None, True
    if doc.date:
        published = _local(datetime.strptime(doc.date, "%Y-%m-%d %H:%M"))
        has_time = not doc.date.endswith("00:00")
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return Output(doc.title, published, has_time, authors, doc.text or "")


_newspaper_ready = False


def _prepare_newspaper() -> None:
    """Quiet newspaper4k's import warnings; give Korean a tokenizer that needs no NLTK data."""
    global _newspaper_ready
    if _newspaper_ready:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import newspaper  # noqa: F401

        ko = importlib.import_module("newspaper.languages.ko")
    ko.tokenizer = _TOKEN.findall
    # Japanese needs tinysegmenter (not installed): one token per character needs nothing
    ja = types.ModuleType("newspaper.languages.ja")
    ja.tokenizer = _CHAR.findall  # type: ignore[attr-defined]
    sys.modules["newspaper.languages.ja"] = ja
    _newspaper_ready = True


def run_newspaper(case: Case, *, metadata: bool) -> Output:
    _prepare_newspaper()
    import newspaper

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        article = newspaper.Article(case.url, fetch_images=False)
        article.download(input_html=case.html)
        article.parse()
    published = article.publish_date
    if isinstance(published, datetime):
        published = _local(published)
    return Output(article.title, published if isinstance(published, datetime) else None, True,
                  list(article.authors), article.text or "")


RUNNERS: dict[str, Callable[..., Output]] = {
    "qkfeed": run_qkfeed, "trafilatura": run_trafilatura, "newspaper4k": run_newspaper,
}


def _local(dt: datetime) -> datetime:
    return (dt if dt.tzinfo is not None else dt.replace(tzinfo=LOCAL_TZ)).astimezone(UTC)


# --- scores -----------------------------------------------------------------------------------


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def page_scores(pred: str, truth: str) -> tuple[float | None, float | None]:
    """(precision, recall) of one page; None where the page does not count for that average."""
    p, t = shingles(pred), shingles(truth)
    tp = sum((p & t).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    if fp == 0 and fn == 0:
        return (1.0, 1.0) if tp else (None, None)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return precision, recall


def body_f1(pairs: list[tuple[str, str]]) -> tuple[float, float, float]:
    """(F1, precision, recall): per-page precision and recall averaged, F1 of the averages."""
    ps, rs = [], []
    for pred, truth in pairs:
        p, r = page_scores(pred, truth)
        if p is not None:
            ps.append(p)
        if r is not None:
            rs.append(r)
    precision = statistics.mean(ps) if ps else 0.0
    recall = statistics.mean(rs) if rs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _names(names: list[str]) -> set[str]:
    return {_norm(n).casefold() for n in names if _norm(n)}


@dataclass
class ToolResult:
    tool: str
    outputs: list[Output]
    ms: list[float]

    def rate(self, cases: list[Case], check: Callable[[Case, Output], bool]) -> float:
        return sum(check(c, o) for c, o in zip(cases, self.outputs, strict=True)) / len(cases)


def measure(tools: list[str], cases: list[Case], *, metadata: bool) -> list[ToolResult]:
    """Every tool on every page; the tools take turns page by page (in rotating order), so a
    machine that gets busier or quieter during the run weighs on all of them alike."""
    if "newspaper4k" in tools:
        _prepare_newspaper()
    results = {t: ToolResult(t, [], []) for t in tools}
    for tool in tools:  # warm up: imports, caches, first-call costs
        _run(tool, cases[0], metadata)
    for k, case in enumerate(cases):
        for tool in tools[k % len(tools):] + tools[: k % len(tools)]:
            started = time.perf_counter()
            out = _run(tool, case, metadata)
            results[tool].ms.append((time.perf_counter() - started) * 1000)
            results[tool].outputs.append(out)
    return [results[t] for t in tools]


def _run(tool: str, case: Case, metadata: bool) -> Output:
    try:
        return RUNNERS[tool](case, metadata=metadata)
    except Exception as exc:  # a peer crashing on a page scores zero on it
        print(f"  {tool} failed on {case.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return Output()


def title_ok(c: Case, o: Output) -> bool:
    return _norm(o.title) == _norm(c.title)


def date_ok(c: Case, o: Output) -> bool:
    if c.published is None or o.published is None:
        return c.published is None and o.published is None
    if c.day_only:
        return day_ok(c, o)
    return o.has_time and o.published.replace(second=0) == c.published.replace(second=0)


def day_ok(c: Case, o: Output) -> bool:
    if c.published is None or o.published is None:
        return c.published is None and o.published is None
    return o.published.astimezone(LOCAL_TZ).date() == c.published.astimezone(LOCAL_TZ).date()


def authors_ok(c: Case, o: Output) -> bool:
    return _names(o.authors) == _names(c.authors or [])


def sentence_ok(c: Case, o: Output) -> bool:
    """(c): the body contains the page's chosen sentence (NFC, whitespace runs as one space)."""
    return real_norm(c.body) in real_norm(o.body)


def all_ok(c: Case, o: Output) -> bool:
    return all(check(c, o) for check in (title_ok, date_ok, authors_ok, sentence_ok))


# --- report -----------------------------------------------------------------------------------


def report(title: str, cases: list[Case], results: list[ToolResult], *, fields: bool, worst: int) -> dict[str, Any]:
    print(f"\n{title}: {len(cases)} pages")
    cols = ["title", "date", "day", "authors"] if fields else []
    head = f"{'tool':12}" + "".join(f"{c:>9}" for c in cols) + f"{'body F1':>9}{'prec':>7}{'recall':>7}{'ms/page':>9}"
    print(head)
    print("-" * len(head))
    table: dict[str, Any] = {}
    for r in results:
        row: dict[str, float] = {}
        if fields:
            row.update(title=r.rate(cases, title_ok), date=r.rate(cases, date_ok), day=r.rate(cases, day_ok),
                       authors=r.rate(cases, authors_ok))
        row["f1"], row["precision"], row["recall"] = body_f1([(o.body, c.body) for c, o in zip(cases, r.outputs, strict=True)])
        row["ms"] = statistics.median(r.ms)
        table[r.tool] = row
        print(f"{r.tool:12}" + "".join(f"{row[c]:9.3f}" for c in cols)
              + f"{row['f1']:9.3f}{row['precision']:7.3f}{row['recall']:7.3f}{row['ms']:9.1f}")
    if "qkfeed" in table:
        q = table["qkfeed"]
        for peer, row in table.items():
            if peer == "qkfeed":
                continue
            parts = [f"{c} {q[c] / row[c]:.2f}x" if row[c] else f"{c} {q[c]:.2f} vs 0" for c in [*cols, "f1"]]
            parts.append(f"time {q['ms'] / row['ms']:.2f}x")
            print(f"qkfeed / {peer}: " + ", ".join(parts))
    if worst:
        qk = next((r for r in results if r.tool == "qkfeed"), None)
        if qk is not None:
            scored = []
            for c, o in zip(cases, qk.outputs, strict=True):
                p, rc = page_scores(o.body, c.body)
                scored.append((2 * (p or 0) * (rc or 0) / (((p or 0) + (rc or 0)) or 1), p, rc, c.name))
            print(f"qkfeed's {worst} worst pages (F1, precision, recall):")
            for f1, p, rc, name in sorted(scored)[:worst]:
                print(f"  {name}  {f1:.3f}  {p if p is None else round(p, 3)}  {rc if rc is None else round(rc, 3)}")
            if fields:
                for c, o in zip(cases, qk.outputs, strict=True):
                    for label, check in (("title", title_ok), ("date", date_ok), ("authors", authors_ok)):
                        if not check(c, o):
                            print(f"  {c.name}: {label} wrong")
    return table


REAL_CHECKS: dict[str, Callable[[Case, Output], bool]] = {
    "title": title_ok, "date": date_ok, "day": day_ok, "authors": authors_ok, "body": sentence_ok, "all": all_ok,
}


def report_real(title: str, cases: list[Case], results: list[ToolResult], *, worst: int) -> dict[str, Any]:
    """(c): field by field; "fields" is the share of (page, field) checks right over title,
    date, authors and body -- the figure the real-page goal is stated in."""
    print(f"\n{title}: {len(cases)} pages")
    head = f"{'tool':12}" + "".join(f"{c:>9}" for c in [*REAL_CHECKS, "fields"]) + f"{'ms/page':>9}"
    print(head)
    print("-" * len(head))
    table: dict[str, Any] = {}
    for r in results:
        row = {name: r.rate(cases, check) for name, check in REAL_CHECKS.items()}
        row["fields"] = statistics.mean(row[c] for c in ("title", "date", "authors", "body"))
        row["ms"] = statistics.median(r.ms)
        table[r.tool] = row
        print(f"{r.tool:12}" + "".join(f"{row[c]:9.3f}" for c in [*REAL_CHECKS, "fields"]) + f"{row['ms']:9.1f}")
    q = table.get("qkfeed")
    for peer, row in table.items():
        if q is not None and peer != "qkfeed":
            print(f"qkfeed / {peer}: fields {q['fields']:.3f} vs {row['fields']:.3f}, time {q['ms'] / row['ms']:.2f}x")
    for r in results if worst else []:
        for c, o in zip(cases, r.outputs, strict=True):
            for name in ("title", "date", "authors", "body"):
                if not REAL_CHECKS[name](c, o):
                    got = {"title": o.title, "date": o.published, "authors": o.authors, "body": o.body[:80]}[name]
                    print(f"  {r.tool}: {c.name}: {name} wrong (got {got!r})")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["fixtures", "public", "real"], help="run one set of pages")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, from: " + ", ".join(TOOLS))
    parser.add_argument("--pages", type=int, help="only the first N public pages")
    parser.add_argument("--worst", type=int, default=0, help="list qkfeed's N worst pages")
    parser.add_argument("--json", metavar="FILE", help="also write the tables as JSON")
    args = parser.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    tables = {}
    if args.only in (None, "fixtures"):
        cases = fixture_cases()
        results = measure(tools, cases, metadata=True)
        tables["fixtures"] = report("(a) fixture articles, field by field (qkfeed: site profiles)", cases, results,
                                    fields=True, worst=args.worst)
    if args.only in (None, "public"):
        if not PUBLIC_DIR.is_dir():
            print(f"\n(b) skipped: {PUBLIC_DIR} not found", file=sys.stderr)
        else:
            cases = public_cases(args.pages)
            results = measure(tools, cases, metadata=False)
            tables["public"] = report("(b) article-extraction-benchmark, body only (qkfeed: generic extractor)",
                                      cases, results, fields=False, worst=args.worst)
    if args.only in (None, "real"):
        cases = real_cases()
        if not cases:
            print("\n(c) skipped: no page of tests/fixtures/real found on this machine", file=sys.stderr)
        else:
            results = measure(tools, cases, metadata=True)
            tables["real"] = report_real("(c) real-page corpus, field by field (qkfeed: generic extractor)",
                                         cases, results, worst=args.worst)
    if args.json:
        Path(args.json).write_text(json.dumps(tables, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
