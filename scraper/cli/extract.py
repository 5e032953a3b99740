"""``extract``: one page (a saved file or a URL) through extraction, printed as JSON.

The tool for writing and debugging a site profile; it stores nothing.  Every profile
selector that matched nothing is named on stderr (``selector_missed``), on every run:
the field then came from the generic extractor, which may look right on this page and
not on the next.  A saved file needs its page's address: ``--url``, else the page's own
``<link rel="canonical">`` or ``og:url`` (said on stderr); without any, a usage error
rather than an invented address (links and the source are read from it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from scraper.config import Config, SourceConfig
from scraper.logs import get_logger, say

from .common import EXIT_OK, UsageError, fetcher_for
from .explain import explaining, report

log = get_logger("cli")


def _source_for_url(config: Config, url: str | None, source_id: str | None) -> SourceConfig:
    from scraper.urls import same_site

    if source_id:
        return config.source(source_id)
    if url:
        for source in config.sources.values():
            if any(same_site(url, s) for s in (*source.start_urls, *source.feed_urls)):
                return source
    return SourceConfig(id="generic", name="generic", start_urls=("https://example.invalid/",))


def _own_address(html: str) -> str | None:
    """The page's own http(s) address, from ``<link rel="canonical">`` or ``og:url``."""
    from scraper.html import meta_content, parse_html

    root = parse_html(html)
    for link in root.iter("link"):
        href = (link.get("href") or "").strip()
        if "canonical" in (link.get("rel") or "").lower().split() and href.startswith(("http://", "https://")):
            return href
    og = (meta_content(root, "og:url") or "").strip()
    return og if og.startswith(("http://", "https://")) else None


def cmd_extract(args: argparse.Namespace, config: Config) -> int:
    from scraper.extract.article import extract_article
    from scraper.fetch.charset import decode_html
    from scraper.normalize.article import normalize

    if args.source:
        config.source(args.source)  # an unknown id before anything is read
    target = args.file_or_url
    if target.startswith(("http://", "https://")):
        async def get():
            async with fetcher_for(config) as fetcher:
                return await fetcher.get(target)

        page = asyncio.run(get())
        html, url = page.text, args.url or page.url
    else:
        path = Path(target)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{target}: cannot read ({exc.strerror})") from None
        html, _ = decode_html(data, None)
        url = args.url or _own_address(html)
        if url is None:
            raise UsageError(f"{target}: the page's URL is unknown (no canonical link in it): "
                             "pass --url https://site/path-of-the-page")
        if not args.url:
            say(log, "url_from_page", f"no --url: using the page's own address {url}", url=url)
    source = _source_for_url(config, url, args.source)
    with explaining(args.explain) as trace:
        raw = extract_article(html, url, source)
        for fld, selector in raw.failed_selectors.items():
            say(log, "selector_missed",
                f"profile selector '{fld}' ({selector}) of source {source.id} matched nothing: "
                "generic extractor used", logging.WARNING, source=source.id, field=fld, selector=selector)
        article = normalize(raw, source)
    out = {
        "url": article.original_url,
        "canonical_url": article.url,
        "source": source.id,
        "title": article.title,
        "published": article.published.strftime("%Y-%m-%dT%H:%M:%SZ") if article.published else None,
        "authors": list(article.authors),
        "agencies": list(article.agencies),
        "summary": article.summary,
        "image": article.image_url,
        "body_text": article.body_text,
        "body_html": article.body_html,
    }
    if trace is not None:
        out["explain"] = trace.as_dict()
        sys.stderr.write(report(trace))
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return EXIT_OK
