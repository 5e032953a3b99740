"""``extract``: one page (a saved file or a URL) through extraction, printed as JSON.

The tool for writing and debugging a site profile; it stores nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from scraper.config import Config, SourceConfig

from .common import EXIT_OK, UsageError, fetcher_for
from .explain import explaining, report


def _source_for_url(config: Config, url: str | None, source_id: str | None) -> SourceConfig:
    from scraper.urls import same_site

    if source_id:
        return config.source(source_id)
    if url:
        for source in config.sources.values():
            if any(same_site(url, s) for s in (*source.start_urls, *source.feed_urls)):
                return source
    return SourceConfig(id="generic", name="generic", start_urls=("https://example.invalid/",))


def cmd_extract(args: argparse.Namespace, config: Config) -> int:
    from scraper.fetch.charset import decode_html
    from scraper.pipeline.runner import article_from_file

    target = args.file_or_url
    if target.startswith(("http://", "https://")):
        url = args.url or target

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
        url = args.url or path.resolve().as_uri().replace("file://", "https://localhost")
    source = _source_for_url(config, url, args.source)
    with explaining(args.explain) as trace:
        article = article_from_file(html, url, source)
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

