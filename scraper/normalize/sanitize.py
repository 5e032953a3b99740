"""Body HTML allowlist.

Feed readers render our ``content`` as HTML, so only a small, inert subset of
HTML leaves qkfeed: text structure, links, images, tables and figures.  The
sanitizing itself is nh3 (ammonia, a maintained Rust sanitizer); this module
only holds the allowlist.
"""

from __future__ import annotations

import nh3

from scraper.text import strip_xml_illegal

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "a", "strong", "b", "em", "i", "u", "s", "sub", "sup", "small",
        "blockquote", "q", "cite", "code", "pre", "ul", "ol", "li", "dl", "dt", "dd",
        "h2", "h3", "h4", "h5", "h6", "figure", "figcaption", "img",
        "table", "caption", "thead", "tbody", "tfoot", "tr", "td", "th",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed together with everything inside them, not just unwrapped.
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "noscript", "iframe", "object", "embed", "form", "template",
     "svg", "math", "select", "textarea", "button", "title", "head"}
)  # fmt: skip


def sanitize_html(fragment: str) -> str:
    """Allowlisted, inert HTML: no scripts, handlers, styles, forms or foreign URL schemes."""
    cleaned = nh3.clean(
        strip_xml_illegal(fragment),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return cleaned.strip()
