"""OPML 2.0 subscription list: the combined feed and each source's Atom feed.

Public surface::

    render_opml(config, base_url) -> bytes
    CONTENT_TYPE

Output is a pure function of the config and the base URL (no ``dateCreated``),
so its ETag changes only when the config does.  Every string is NFC and
XML-safe; ElementTree escapes it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

from scraper.config import Config, SourceConfig
from scraper.text import nfc, strip_xml_illegal

from .entries import FEED_FILES, SOURCE_FEED_TITLE

__all__ = ["CONTENT_TYPE", "OPML_DOCS", "render_opml"]

CONTENT_TYPE = "text/x-opml; charset=utf-8"
OPML_DOCS = "http://opml.org/spec2.opml"
SOURCES_OUTLINE = "Các nguồn tin"
FEED_FORMAT = "atom"
OUTLINE_TYPE = "rss"  # OPML's type for any feed subscription, Atom included


def render_opml(config: Config, base_url: str) -> bytes:
    """The OPML document listing ``{base}/feed.atom`` and ``{base}/sources/{id}/feed.atom``."""
    base = base_url.rstrip("/")
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _text(config.feed.title)
    ET.SubElement(head, "docs").text = OPML_DOCS
    body = ET.SubElement(root, "body")
    ET.SubElement(
        body,
        "outline",
        _outline(
            title=config.feed.title,
            xml_url=f"{base}/{FEED_FILES[FEED_FORMAT]}",
            html_url=f"{base}/",
            description=config.feed.description,
        ),
    )
    group = ET.SubElement(body, "outline", text=SOURCES_OUTLINE, title=SOURCES_OUTLINE)
    for source in config.sources.values():
        ET.SubElement(
            group,
            "outline",
            _outline(
                title=SOURCE_FEED_TITLE.format(name=source.name),
                xml_url=f"{base}/sources/{source.id}/{FEED_FILES[FEED_FORMAT]}",
                html_url=site_home(source),
                description=source.region or source.name,
            ),
        )
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def site_home(source: SourceConfig) -> str:
    """The home page of a source's site (its first start URL's origin)."""
    parts = urlsplit(source.site_url)
    return f"{parts.scheme}://{parts.netloc}/"


def _outline(*, title: str, xml_url: str, html_url: str, description: str) -> dict[str, str]:
    title = _text(title)
    return {
        "text": title,
        "title": title,
        "type": OUTLINE_TYPE,
        "xmlUrl": _text(xml_url),
        "htmlUrl": _text(html_url),
        "description": _text(description),
    }


def _text(value: str | None) -> str:
    return strip_xml_illegal(nfc(value)) if value else ""
