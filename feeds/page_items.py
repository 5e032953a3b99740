"""One story on the page: thumbnail, title, source, time, topic, snippet, copies on other sites.

Links and images are emitted only for http(s) URLs with a host (``safe_url``).
A thumbnail is the article's lead image, loaded by the reader's browser from
the site itself (``loading=lazy``, no referrer; nothing is proxied), with an
empty ``alt`` since the title next to it says what it shows.  With a search,
the title and the snippet mark the matched words (``feeds.snippet``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from html import escape
from urllib.parse import urlencode, urlsplit

from scraper.config import SourceConfig
from scraper.models import StoredArticle
from scraper.text import clean_text

from .articleview import list_marks
from .page_time import format_vn_time, iso
from .snippet import highlight, snippet
from .topics import topic_of

__all__ = ["SUMMARY_CHARS", "article_item", "safe_url", "source_name"]

SUMMARY_CHARS = 320
LINK_SCHEMES = frozenset({"http", "https"})


def safe_url(url: str | None) -> bool:
    """Whether ``url`` may be a link or an image source: http(s) with a host."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in LINK_SCHEMES and bool(parts.netloc)


def source_name(sources: Mapping[str, SourceConfig], source_id: str) -> str:
    source = sources.get(source_id)
    return source.name if source else source_id


def article_item(
    sources: Mapping[str, SourceConfig], item: StoredArticle, terms: Collection[str], home: str
) -> str:
    """One ``<li>``; ``terms``: the folded search words to mark; ``home``: the page's URL."""
    art = item.article
    url = art.original_url or art.url  # the URL as fetched, like the feeds' entry links
    title = highlight(clean_text(art.title) or url, terms)
    heading = f'<a href="{escape(url)}">{title}</a>' if safe_url(url) else title
    when = item.published_or_seen
    meta = [
        f'<span class="source">{escape(source_name(sources, art.source_id))}</span>',
        f'<time datetime="{escape(iso(when))}">{escape(format_vn_time(when))}</time>',
    ]
    topic = topic_of(art.url, sources.get(art.source_id))
    if topic is not None:
        href = home + "?" + urlencode([("topic", topic.id)])
        meta.append(f'<a class="topic" href="{escape(href)}">{escape(topic.label)}</a>')
    names = [clean_text(a) for a in (art.authors or art.agencies) if clean_text(a)]
    if names:
        meta.append(f'<span class="authors">{escape(", ".join(dict.fromkeys(names)))}</span>')
    meta.extend(list_marks(item))  # "đã sửa N lần" / "đã bị gỡ", linking the article view (issue 12)
    texts = [clean_text(art.summary), clean_text(art.body_text)]
    summary = snippet(texts, terms, SUMMARY_CHARS)
    body = f'<p class="summary">{summary}</p>' if summary else ""
    copies = [
        f'<a href="{escape(sib.link)}">{escape(source_name(sources, sib.source_id))}</a>'
        for sib in item.siblings
        if safe_url(sib.link)
    ]
    if copies:
        body += f'<p class="also">Cũng đăng trên: {", ".join(copies)}</p>'
    thumb = ""
    if safe_url(art.image_url):
        thumb = (
            f'<img class="thumb" src="{escape(art.image_url or "")}" alt="" loading="lazy"'
            ' decoding="async" referrerpolicy="no-referrer" width="128" height="85">'
        )
    return (
        f'<li><article>{thumb}<div class="text"><h3>{heading}</h3>'
        f'<p class="meta">{" · ".join(meta)}</p>{body}</div></article></li>'
    )
